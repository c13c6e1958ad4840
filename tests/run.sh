#!/usr/bin/env bash
# The project's test command: installs what is missing (tests/install-deps.sh), checks
# formatting and lints, builds everything, runs the Rust tests (unit, wire fixtures,
# end-to-end against zkrs-server in-process and as a process, replicated ensembles of zkrs
# members and mixed with Apache members), the fuzz
# targets over their seeds, then the third-party client suites (zkCli.sh, kazoo, the Java
# and C clients) against zkrs-server, standalone and as a 3-member ensemble.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install-deps.sh

echo "== format"
cargo fmt --all --check

echo "== lints"
cargo clippy --workspace --all-targets -- -D warnings

echo "== build"
# The end-to-end tests start the zkrs-server binary; they do not build it themselves.
cargo build --workspace --bins

echo "== rust tests (the replication tests against a 3-member zkrs ensemble)"
cargo nextest run --workspace --no-fail-fast

echo "== the replication and reconfig tests again with mixed zkrs/Apache ensembles (ZKRS_ENSEMBLE=mixed)"
ZKRS_ENSEMBLE=mixed cargo nextest run -p zkrs-tests --test replication --test reconfig --no-fail-fast

echo "== fuzz targets over a seeded corpus (stable Rust; libFuzzer runs are in fuzz/README.md)"
cargo test --manifest-path fuzz/Cargo.toml

echo "== third-party client suites (zkCli.sh, kazoo, Java and C clients) against zkrs-server"
python3 -m pytest tests/python -q

echo "== the same suites against a 3-member zkrs ensemble (ZKRS_TEST_ENSEMBLE=3)"
ZKRS_TEST_ENSEMBLE=3 python3 -m pytest tests/python -q

# --- the Rust end-to-end tests against a 3-member zkrs ensemble (ZKRS_TEST_ENSEMBLE=3) ---
# Every file whose tests mean something on an ensemble (tests/README.md); disk_full and
# inprocess only skip there, and replication/election/ensemble start their own ensembles.
# The differential test gets 100 seeds instead of 500: its ensemble-specific part (writes
# forwarded by a follower) shows in every seed, and 500 seeds of it take over two minutes.
echo "== the Rust end-to-end tests against a 3-member zkrs ensemble (ZKRS_TEST_ENSEMBLE=3)"
ZKRS_TEST_ENSEMBLE=3 ZKRS_DIFF_SEEDS=100 cargo nextest run -p zkrs-tests --no-fail-fast \
    --test ops --test sessions --test watches --test acl --test durability --test cli \
    --test four_letter_words --test hostile --test differential
# --- end of the ensemble block ---

# ---- operator: manifests, CRD and Helm chart (owner: operator) ----
echo "== operator: every rendered object, the CRD, manifests/ and the Helm chart against Kubernetes' schemas; helm lint"
bash operator/tests/validate.sh
# ---- end operator ----

# ---- the container image and the compose ensemble (tests/docker) ----
# Builds the image (scripts/build-image.sh: release binaries, the Debian base and Docker's
# layers are all cached) and runs deploy/compose's 3-member ensemble through a leader kill
# and a network partition. Skipped, loudly, only when no Docker daemon answers.
echo "== the container image and the compose ensemble (tests/docker)"
if docker info >/dev/null 2>&1; then
  python3 -m pytest tests/docker -q
else
  echo "!! SKIPPED tests/docker: no Docker daemon is reachable; the image and the compose" >&2
  echo "!! ensemble were NOT tested" >&2
fi
# ---- end of the container image block ----

# ---- the README's reconfig walkthrough (scripts/reconfig-walkthrough.sh) ----
echo "== the README's walkthrough: a local ensemble grows 3 -> 5 -> 3 under a writer"
WRITE_SECS=15 bash scripts/reconfig-walkthrough.sh
# ---- end reconfig walkthrough ----
