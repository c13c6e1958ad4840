#!/usr/bin/env bash
# Write throughput against the number of concurrent clients, zkrs-server next to Apache
# ZooKeeper on the same disk, forceSync on, in one run. Shows group commit: with one fsync
# per batch, throughput rises with concurrency instead of staying at one fsync per write.
#
# usage: scripts/bench-group-commit.sh [seconds per run, default 5] [runs, default 3]
# Needs the Debian `zookeeper` package and Java. Results: one table on stdout, raw JSON
# lines in target/bench/group-commit.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-5}
RUNS=${2:-3}
CLIENTS=${CLIENTS:-"1 16 64"}

cargo build --release -q -p zkrs-server -p zkrs-tests --bin zkrs-server --bin zk-loadgen
mkdir -p target/bench
WORK=$(mktemp -d -p "$PWD/target/bench")
OUT=target/bench/group-commit.jsonl
: > "$OUT"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ruok() {
  for _ in $(seq 1 300); do
    if [ "$(python3 - "$1" <<'PY' 2>/dev/null
import socket,sys
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=1); s.sendall(b"ruok"); print(s.recv(8).decode())
PY
)" = imok ]; then return 0; fi
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2; exit 1
}

ZKRS_PORT=$(free_port); APACHE_PORT=$(free_port)
mkdir -p "$WORK/zkrs" "$WORK/apache"
for s in zkrs apache; do
  port=$ZKRS_PORT; [ $s = apache ] && port=$APACHE_PORT
  cat > "$WORK/$s.cfg" <<CFG
tickTime=2000
dataDir=$WORK/$s
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
forceSync=yes
4lw.commands.whitelist=*
admin.enableServer=false
CFG
done
./target/release/zkrs-server "$WORK/zkrs.cfg" 2> "$WORK/zkrs.log" & pids+=($!); disown
java -Xmx1g -Dzookeeper.forceSync=yes -cp /usr/share/java/zookeeper.jar \
  org.apache.zookeeper.server.ZooKeeperServerMain "$WORK/apache.cfg" > "$WORK/apache.log" 2>&1 & pids+=($!); disown
wait_ruok "$ZKRS_PORT"; wait_ruok "$APACHE_PORT"

for c in $CLIENTS; do
  for r in $(seq 1 "$RUNS"); do
    for s in zkrs apache; do
      port=$ZKRS_PORT; [ $s = apache ] && port=$APACHE_PORT
      line=$(./target/release/zk-loadgen --connect "127.0.0.1:$port" --clients "$c" \
               --seconds "$SECONDS_PER_RUN" --op write --value-size 100)
      echo "{\"server\":\"$s\",\"run\":$r,${line#\{}" >> "$OUT"
    done
  done
done

python3 - "$OUT" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'clients':>7} | {'zkrs w/s':>9} {'p50 ms':>7} {'p99 ms':>7} | {'apache w/s':>10} {'p50 ms':>7} {'p99 ms':>7} | {'ratio':>5}")
for c in sorted({r['clients'] for r in rows}):
    def med(s, k):
        return st.median(r[k] for r in rows if r['server'] == s and r['clients'] == c)
    z, a = med('zkrs', 'ops_per_sec'), med('apache', 'ops_per_sec')
    print(f"{c:>7} | {z:>9.0f} {med('zkrs','p50_ms'):>7.2f} {med('zkrs','p99_ms'):>7.2f} | "
          f"{a:>10.0f} {med('apache','p50_ms'):>7.2f} {med('apache','p99_ms'):>7.2f} | {z/a:>5.2f}")
PY
