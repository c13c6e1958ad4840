#!/usr/bin/env bash
# How long a snapshot stops the core at N znodes (default 1M): the tree serialized whole on
# the caller (as before snapshots were fuzzy) against the scheduler's slices, then the time
# to load the file back. DIR should be on the disk that would hold dataDir (not tmpfs, where
# O_DIRECT falls back to buffered writes). Pass "flat" to put every node under one parent.
#
#   scripts/bench-snapshot-pause.sh [nodes] [dir] [flat]
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=${1:-1000000}
dir=${2:-target}
mkdir -p "$dir"
cargo build --release -q -p zkrs-server
exec target/release/zkrs-server measure-snapshot-pause "$nodes" "$dir" ${3:-}
