#!/usr/bin/env bash
# The project's test command: builds everything, runs the Rust tests (unit, wire fixtures,
# end-to-end against a real zkrs-server process with an independent client crate), then the
# third-party client suites (zkCli.sh and kazoo) against zkrs-server.
#
# Needs: Rust, Java + the Debian `zookeeper` package (for zkCli.sh and the client jar),
# Python 3 with the packages in tests/python/requirements.txt. `.ci/run` installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== build"
cargo build --workspace --bins

echo "== rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

echo "== fuzz targets over a seeded corpus (stable Rust; libFuzzer runs are in fuzz/README.md)"
cargo test --manifest-path fuzz/Cargo.toml

echo "== third-party client suites (zkCli.sh, kazoo) against zkrs-server"
python3 -m pytest tests/python -q
