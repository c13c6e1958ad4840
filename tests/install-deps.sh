#!/usr/bin/env bash
# Installs what the test command (tests/run.sh) needs beyond Rust, each part only if it is
# missing, so a second run does nothing:
#   - Apache ZooKeeper (zkCli.sh, the Java client jar, the reference server) from Debian's
#     `zookeeper` package, and a JDK (javac) for the Java client suite;
#   - the C client library and gcc for the C client suite;
#   - prlimit (util-linux) and kill (procps), which the Rust tests run;
#   - cargo-nextest, which runs each Rust test in its own process;
#   - the Python packages in tests/python/requirements.txt (kazoo, pytest).
# apt-get runs as root, or through sudo when that is available.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
[ -x /usr/share/zookeeper/bin/zkCli.sh ] || packages+=(zookeeper)
[ -f /usr/include/zookeeper/zookeeper.h ] || packages+=(libzookeeper-mt-dev)
command -v javac >/dev/null 2>&1 || packages+=(default-jdk-headless)
command -v gcc >/dev/null 2>&1 || packages+=(gcc)
command -v prlimit >/dev/null 2>&1 || packages+=(util-linux)
command -v kill >/dev/null 2>&1 || packages+=(procps)
[ -x /usr/sbin/debootstrap ] || packages+=(debootstrap) # the image's base: scripts/debian-base.sh
if [ ${#packages[@]} -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "install-deps: need root (or sudo) to install: ${packages[*]}" >&2
      exit 1
    }
    sudo=(sudo)
  fi
  echo "== installing Debian packages: ${packages[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}"
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "== installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

# Installed already when every pinned requirement is present in exactly that version.
if ! python3 - tests/python/requirements.txt <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, want = line.partition("==")
    try:
        if want and version(name.strip()) != want.strip():
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
then
  echo "== installing Python packages (tests/python/requirements.txt)"
  python3 -m pip install -q -r tests/python/requirements.txt
fi

# ---- tests/docker: PyYAML, to read the operator's rendered objects (test_pods.py) ----
if ! python3 -c 'import yaml' >/dev/null 2>&1; then
  echo "== installing Python packages (tests/docker/requirements.txt)"
  python3 -m pip install -q -r tests/docker/requirements.txt
fi
# ---- end tests/docker ----
