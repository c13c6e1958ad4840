#!/usr/bin/env bash
# Resident memory with 100k and 1M znodes, bytes per znode, and restart time with 1M znodes on
# disk, zkrs-server next to Apache ZooKeeper (-Xmx3g). See scripts/bench-vs-apache.sh.
#
# usage: scripts/bench-memory.sh [restart runs, default 3]
exec "$(dirname "$0")/bench-vs-apache.sh" memory "$@"
