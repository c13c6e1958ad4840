#!/usr/bin/env bash
# Runs every fuzz target under libFuzzer for a bounded time (CI). A crash fails the run and
# leaves its input in fuzz/artifacts/<target>/ (turn it into a regression test).
# usage: fuzz/run-bounded.sh [seconds per target, default 30]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-30}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
# cargo-fuzz passes nightly-only flags (the address sanitizer); RUSTC_BOOTSTRAP lets the
# stable toolchain accept them.
export RUSTC_BOOTSTRAP=1
mkdir -p fuzz/corpus/frame_decoder fuzz/corpus/config_parser fuzz/corpus/quorum_decoders
cargo fuzz run frame_decoder fuzz/corpus/frame_decoder fuzz/seeds/frame_decoder -- \
  -max_total_time="$SECS" -print_final_stats=1
cargo fuzz run config_parser fuzz/corpus/config_parser fuzz/seeds/config_parser -- \
  -dict=fuzz/dicts/config_parser.dict -max_total_time="$SECS" -print_final_stats=1
cargo fuzz run quorum_decoders fuzz/corpus/quorum_decoders fuzz/seeds/quorum_decoders -- \
  -dict=fuzz/dicts/quorum_decoders.dict -max_total_time="$SECS" -print_final_stats=1
echo "fuzz: no crash in ${SECS}s per target"
