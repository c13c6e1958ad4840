#!/usr/bin/env bash
# zkrs-server next to Apache ZooKeeper in one run, both driven by `zkrs-cli bench`.
#
# usage: scripts/bench-vs-apache.sh [throughput] [seconds per run, default 10] [runs, default 3]
#        scripts/bench-vs-apache.sh memory [runs, default 3]      (also: scripts/bench-memory.sh)
#        scripts/bench-vs-apache.sh profile <workload> [seconds, default 10]
#        scripts/bench-vs-apache.sh snapshot [seconds per run, default 20] [runs, default 3]
#        scripts/bench-vs-apache.sh ensemble [seconds per run, default 10] [runs, default 3]
#          (3-member ensembles: throughput, failover, catch-up; scripts/bench-ensemble.sh)
#
# throughput: start-to-serve time of each server (fresh data directory; median of RUNS
#   alternated starts), then every workload against each server in alternation (median of
#   RUNS runs): ops/s, p50 and p99 of both and the ratios, server CPU seconds per 100k ops
#   (over the measured window) and server RSS after the run.
# memory: RSS of each server empty, with 100k and with 1M znodes of 100 bytes (loaded by
#   `zkrs-cli bench populate`, many sessions, pipelined), bytes per znode, and the restart
#   time with 1M znodes on disk (kill -9, start, first served request; median of RUNS
#   alternated restarts).
# snapshot: what snapshots cost writes: each server loaded with SNAP_ZNODES znodes of 100
#   bytes (default 1M) and snapCount=SNAP_COUNT (default 100000), then writes for the given
#   seconds (alternated, RUNS runs), so that several snapshots of the whole tree are taken
#   while writes go on; p50, p99, p99.9 and max write latency, and the snapshots taken.
# profile: zkrs-server alone under one workload, `perf record -g` of the server for the
#   measured seconds; prints the bench table, the fdatasync rate and the top symbols
#   (self time), and keeps the full report in target/bench/profile-<workload>.txt.
#
# Both servers run standalone on loopback with the same zoo.cfg settings (tickTime=2000,
# forceSync=yes, maxClientCnxns=0, snapCount default 100000), data on the same disk under
# target/bench/. Apache ZooKeeper is the Debian package (installed if missing) on the system
# Java, heap APACHE_HEAP (default 1g, Apache's own default; memory: 3g).
#
# Environment:
#   WORKLOADS     default: read write mixed90 mixed50 create-delete watch sessions multi
#   SESSIONS (64), INFLIGHT (1), WARMUP (2 s per run)
#   JIT_WARMUP    5 s of reads and writes against each server before anything is measured
#   POP_SESSIONS (64), POP_INFLIGHT (8)   for loading znodes
#   MEM_COUNTS    "100000 1000000": znode counts at which memory is measured (the restart
#                 is timed with the last)
#   QUIET (20), QUIET_WAIT (600)   before each measurement, wait (at most 2 x QUIET_WAIT s)
#                 until other processes use at most QUIET % of a CPU
#   NOISY (25), RETRIES (2)        repeat a run during which other processes used more
#                 than NOISY % of a CPU (the quietest attempt is kept)
#   APACHE_HEAP   see above
# Output: a markdown table on stdout; raw JSON lines in target/bench/vs-apache.jsonl (or
# memory.jsonl). Every process started is stopped by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "${1:-}" = ensemble ]; then
  shift
  exec scripts/bench-ensemble.sh "$@"
fi
MODE=throughput
case "${1:-}" in
  throughput|memory|profile|snapshot) MODE=$1; shift ;;
esac
if [ "$MODE" = throughput ]; then
  SECS=${1:-10}
  RUNS=${2:-3}
elif [ "$MODE" = snapshot ]; then
  SECS=${1:-20}
  RUNS=${2:-3}
elif [ "$MODE" = profile ]; then
  PROFILE_WORKLOAD=${1:?usage: $0 profile <workload> [seconds]}
  SECS=${2:-10}
  RUNS=1
else
  RUNS=${1:-3}
fi
WORKLOADS=${WORKLOADS:-"read write mixed90 mixed50 create-delete watch sessions multi"}
SESSIONS=${SESSIONS:-64}
INFLIGHT=${INFLIGHT:-1}
WARMUP=${WARMUP:-2}
JIT_WARMUP=${JIT_WARMUP:-5}
POP_SESSIONS=${POP_SESSIONS:-64}
POP_INFLIGHT=${POP_INFLIGHT:-8}
MEM_COUNTS=${MEM_COUNTS:-"100000 1000000"}
SNAP_ZNODES=${SNAP_ZNODES:-1000000}
SNAP_COUNT=${SNAP_COUNT:-100000}
if [ "$MODE" = memory ] || [ "$MODE" = snapshot ]; then APACHE_HEAP=${APACHE_HEAP:-3g}; else APACHE_HEAP=${APACHE_HEAP:-1g}; fi
JAR=/usr/share/java/zookeeper.jar

if [ ! -f "$JAR" ] || ! command -v java > /dev/null; then
  echo "installing Apache ZooKeeper (Debian package zookeeper)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y zookeeper >&2; else sudo apt-get install -y zookeeper >&2; fi
fi

cargo build --release -q -p zkrs-server --bin zkrs-server -p zkrs-client --bin zkrs-cli
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
CLI=$BIN/zkrs-cli
mkdir -p target/bench
WORK=$(mktemp -d -p "$ROOT/target/bench" "$MODE.XXXXXX")
OUT=target/bench/vs-apache.jsonl
[ "$MODE" = memory ] && OUT=target/bench/memory.jsonl
[ "$MODE" = snapshot ] && OUT=target/bench/snapshot.jsonl
: > "$OUT"

declare -A PID PORT
cleanup() {
  for p in "${PID[@]}"; do
    if [ -n "$p" ]; then kill -9 "$p" 2>/dev/null || true; fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json_get() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
# The median of 11 RSS samples over 5 s: a snapshot being written or a GC in progress at one
# instant does not decide the figure.
rss_settled_kib() {
  local i
  for i in $(seq 0 10); do rss_kib "$1"; sleep 0.5; done | sort -n | sed -n 6p
}
# The JVM's used heap after a full GC, in KiB (informational: the live data).
jvm_live_heap_kib() {
  jcmd "$1" GC.run > /dev/null 2>&1 || return 0
  jcmd "$1" GC.heap_info 2> /dev/null | awk '/total/ && /used/ {
    for (i = 1; i <= NF; i++) if ($i == "used") { v = $(i + 1); sub(/K,?$/, "", v); print v; exit } }'
}
# The node count a server reports (four-letter word srvr, allowed by default on both).
node_count() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"srvr")
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
for line in data.decode().splitlines():
    if line.startswith("Node count:"):
        print(line.split(":")[1].strip())
PY
}

write_cfg() { # server
  cat > "$WORK/$1.cfg" <<CFG
tickTime=2000
dataDir=$WORK/$1-data
clientPort=${PORT[$1]}
clientPortAddress=127.0.0.1
maxClientCnxns=0
forceSync=yes
admin.enableServer=false
CFG
  if [ "$MODE" = snapshot ]; then echo "snapCount=$SNAP_COUNT" >> "$WORK/$1.cfg"; fi
}

# Starts a server and measures the time to its first served request (handshake + getData).
# Sets PID[server]; prints the milliseconds.
nlog=0
start() { # server
  local s=$1 cmd out
  if [ "$s" = zkrs ]; then
    cmd=("$BIN/zkrs-server" "$WORK/$s.cfg")
  else
    cmd=(java "-Xmx$APACHE_HEAP" -Dzookeeper.forceSync=yes -cp "$JAR"
         org.apache.zookeeper.server.ZooKeeperServerMain "$WORK/$s.cfg")
  fi
  nlog=$((nlog + 1))
  out=$("$CLI" bench start-to-serve --connect "127.0.0.1:${PORT[$s]}" --timeout 600 \
          --log "$WORK/$s.$nlog.log" -- "${cmd[@]}")
  PID[$s]=$(json_get "$out" pid)
  START_MS=$(json_get "$out" start_to_serve_ms)
}

# kill -9 and wait until the process is gone (or a zombie nobody reaps) and its port is
# closed.
listening() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
stop() { # server
  local p=${PID[$1]}
  kill -9 "$p" 2>/dev/null || true
  for _ in $(seq 1 1000); do
    if { [ ! -d "/proc/$p" ] || grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; } \
       && ! listening "${PORT[$1]}"; then
      PID[$1]=""
      return 0
    fi
    sleep 0.01
  done
  echo "process $p did not exit" >&2
  exit 1
}

fresh() { # server: an empty data directory
  rm -rf "$WORK/$1-data"
  mkdir -p "$WORK/$1-data"
}

bench() { # server, workload, args...
  local s=$1 w=$2
  shift 2
  "$CLI" bench "$w" --connect "127.0.0.1:${PORT[$s]}" --server-pid "${PID[$s]}" --json \
    --no-progress "$@"
}

# CPU ticks (USER_HZ) the whole machine has been busy, and the CPU seconds of this script's
# finished children (the bench client runs).
HZ=$(getconf CLK_TCK)
machine_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
# (`times` must run in this shell, not in a pipeline or $(...): those are subshells.)
c0="" c1=""
children_cpu() { # variable name
  times > "$WORK/times"
  printf -v "$1" '%s' "$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } print t }' "$WORK/times")"
}
proc_cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# Waits (at most 2 x QUIET_WAIT seconds) until the machine is quiet: other processes busy for
# at most QUIET percent of one CPU over two seconds. Our idle servers use almost nothing.
QUIET=${QUIET:-20}
QUIET_WAIT=${QUIET_WAIT:-600}
NOISY=${NOISY:-25}
RETRIES=${RETRIES:-2}
wait_quiet() {
  local a b i
  for i in $(seq 1 "$QUIET_WAIT"); do
    a=$(machine_busy); sleep 2; b=$(machine_busy)
    if [ $(((b - a) * 50 / HZ)) -le "$QUIET" ]; then return 0; fi
    [ "$i" = 1 ] && echo "waiting for the machine to be quiet ($(((b - a) * 50 / HZ))% busy)" >&2
  done
  echo "the machine is still busy; measuring anyway" >&2
}

order() { # run number: alternate which server goes first
  if [ $(($1 % 2)) = 1 ]; then echo "zkrs apache"; else echo "apache zkrs"; fi
}

machine() {
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/^Mem:/ {print $2}') GB RAM, Linux $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
}

for s in zkrs apache; do
  PORT[$s]=$(free_port)
  write_cfg "$s"
done
echo "# $(machine)"
echo "# $(java -version 2>&1 | head -1), Apache ZooKeeper $(dpkg-query -W -f '${Version}' zookeeper 2>/dev/null || echo '?'), heap $APACHE_HEAP"

if [ "$MODE" = profile ]; then
  command -v perf > /dev/null || { echo "perf is needed (Debian package linux-perf)" >&2; exit 1; }
  fresh zkrs
  start zkrs
  wait_quiet
  "$CLI" bench "$PROFILE_WORKLOAD" --connect "127.0.0.1:${PORT[zkrs]}" --server-pid "${PID[zkrs]}" \
    --sessions "$SESSIONS" --inflight "$INFLIGHT" --warmup 3 --duration "$SECS" --no-progress \
    > "$WORK/bench.txt" &
  bench_pid=$!
  sleep 4
  perf stat -x, -e syscalls:sys_enter_fdatasync -p "${PID[zkrs]}" -o "$WORK/stat.txt" -- sleep 2
  data=target/bench/profile-$PROFILE_WORKLOAD.perf.data
  perf record -F 999 -g -p "${PID[zkrs]}" -o "$data" -- sleep $((SECS - 3)) 2> /dev/null
  wait "$bench_pid"
  report=target/bench/profile-$PROFILE_WORKLOAD.txt
  perf report -i "$data" --stdio --no-children --sort symbol --percent-limit 0.5 \
    > "$report" 2> /dev/null
  echo "# $(machine)"
  cat "$WORK/bench.txt"
  echo
  awk -F, '/fdatasync/ {printf "fdatasync calls: %.0f per second\n", $1 / 2}' "$WORK/stat.txt"
  echo
  echo "zkrs-server CPU by thread:"
  perf report -i "$data" --stdio --no-children --sort comm -g none --percent-limit 1 2> /dev/null \
    | grep -E '^ +[0-9.]+%' | sed 's/ *$//'
  echo
  echo "top symbols of zkrs-server, self time (call graphs: $report; data: $data):"
  perf report -i "$data" --stdio --no-children --sort symbol -g none --percent-limit 0.4 2> /dev/null \
    | grep -E '^ +[0-9.]+%' | sed 's/ *-  *- *$//; s/ *$//' | head -45
  exit 0
fi

# Snapshot files in a server's data directory.
snapshots() { find "$WORK/$1-data" -name 'snapshot.*' 2> /dev/null | wc -l; }
# Removes all but the two newest snapshots (a run writes many of ~190 MB each).
prune_snapshots() {
  find "$WORK/$1-data" -name 'snapshot.*' ! -name '*.tmp' -printf '%T@ %p\n' 2> /dev/null \
    | sort -rn | tail -n +3 | cut -d' ' -f2- | xargs -r rm -f
}

if [ "$MODE" = snapshot ]; then
  for s in zkrs apache; do
    fresh "$s"
    start "$s"
    wait_quiet
    echo "loading $s to $SNAP_ZNODES znodes ..." >&2
    bench "$s" populate --sessions "$POP_SESSIONS" --inflight "$POP_INFLIGHT" \
      --count "$SNAP_ZNODES" --value-size 100 > /dev/null
  done
  for r in $(seq 1 "$RUNS"); do
    for s in $(order "$r"); do
      wait_quiet
      echo "writes with snapshots, run $r: $s (load $(cut -d' ' -f1 /proc/loadavg))" >&2
      n0=$(snapshots "$s")
      line=$(bench "$s" write --sessions "$SESSIONS" --inflight "$INFLIGHT" \
               --duration "$SECS" --warmup "$WARMUP")
      n1=$(snapshots "$s")
      prune_snapshots "$s"
      echo "{\"kind\":\"snapshot\",\"server\":\"$s\",\"run\":$r,\"snapshots\":$((n1 - n0)),\"bench\":$line}" >> "$OUT"
    done
  done
  python3 - "$OUT" "$SNAP_ZNODES" "$SNAP_COUNT" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{int(sys.argv[2]):,} znodes, snapCount={sys.argv[3]}, writes; median of {len(rows) // 2} runs\n")
print("| | zkrs | Apache | ratio |")
print("|---|--:|--:|--:|")
def med(server, f):
    return st.median(f(r) for r in rows if r["server"] == server)
def op(r):
    return r["bench"]["per_op"][0]
for label, f in [("writes/s", lambda r: r["bench"]["ops_per_sec"]),
                 ("p50 ms", lambda r: op(r)["p50_ms"]), ("p99 ms", lambda r: op(r)["p99_ms"]),
                 ("p99.9 ms", lambda r: op(r)["p999_ms"]), ("max ms", lambda r: op(r)["max_ms"]),
                 ("snapshots taken during a run", lambda r: r["snapshots"])]:
    z, a = med("zkrs", f), med("apache", f)
    print(f"| {label} | {z:.1f} | {a:.1f} | {z / a if a else float('nan'):.2f} |")
PY
  exit 0
fi

if [ "$MODE" = throughput ]; then
  echo "start-to-serve (fresh data directory) ..." >&2
  for r in $(seq 1 "$RUNS"); do
    for s in $(order "$r"); do
      fresh "$s"
      wait_quiet
      start "$s"
      echo "{\"kind\":\"start\",\"server\":\"$s\",\"run\":$r,\"start_to_serve_ms\":$START_MS}" >> "$OUT"
      stop "$s"
    done
  done
  for s in zkrs apache; do
    fresh "$s"
    start "$s"
  done
  if [ "$JIT_WARMUP" != 0 ]; then
    echo "warming up (JIT) ..." >&2
    for s in zkrs apache; do
      for w in read write; do
        bench "$s" "$w" --sessions "$SESSIONS" --duration "$JIT_WARMUP" --warmup 0 > /dev/null
      done
    done
  fi
  for w in $WORKLOADS; do
    for r in $(seq 1 "$RUNS"); do
      for s in $(order "$r"); do
        # A run during which other processes took more than NOISY % of a CPU is repeated
        # (at most RETRIES times); the quietest attempt is kept.
        best=""
        best_others=100000
        for attempt in $(seq 1 $((RETRIES + 1))); do
          wait_quiet
          echo "$w run $r: $s (load $(cut -d' ' -f1 /proc/loadavg))" >&2
          m0=$(machine_busy); children_cpu c0; s0=$(proc_cpu_ticks "${PID[$s]}")
          t0=$(date +%s.%N)
          line=$(bench "$s" "$w" --sessions "$SESSIONS" --inflight "$INFLIGHT" \
                   --duration "$SECS" --warmup "$WARMUP")
          t1=$(date +%s.%N)
          m1=$(machine_busy); children_cpu c1; s1=$(proc_cpu_ticks "${PID[$s]}")
          # CPU used by everything else on the machine during the run (other users, the
          # idle server), in percent of one CPU: the noise indicator.
          others=$(awk -v m=$((m1 - m0)) -v s=$((s1 - s0)) -v c0="$c0" -v c1="$c1" \
                     -v hz="$HZ" -v t0="$t0" -v t1="$t1" \
                     'BEGIN { x = ((m - s) / hz - (c1 - c0)) / (t1 - t0) * 100; printf "%.0f", x < 0 ? 0 : x }')
          if [ "$others" -lt "$best_others" ]; then
            best_others=$others
            best="{\"kind\":\"run\",\"server\":\"$s\",\"run\":$r,\"attempt\":$attempt,\"others_cpu_pct\":$others,\"bench\":$line}"
          fi
          [ "$others" -le "$NOISY" ] && break
          echo "  others used $others% of a CPU during the run" >&2
        done
        echo "$best" >> "$OUT"
      done
    done
  done
  echo "# $(machine)"
  python3 - "$OUT" "$SESSIONS" "$INFLIGHT" "$SECS" "$RUNS" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
sessions, inflight, secs, runs = sys.argv[2:6]
med = st.median
starts = {s: med([r["start_to_serve_ms"] for r in rows if r["kind"] == "start" and r["server"] == s])
          for s in ("zkrs", "apache")}
runs_ = [r for r in rows if r["kind"] == "run"]
print(f"{sessions} sessions x {inflight} in flight, {secs} s per run, median of {runs} alternated runs\n")
print("| workload | op | zkrs ops/s | p50 ms | p99 ms | Apache ops/s | p50 ms | p99 ms "
      "| ops ratio | p99 ratio | zkrs CPU s/100k | Apache CPU s/100k | zkrs RSS MB | Apache RSS MB |")
print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
workloads = []
for r in runs_:
    if r["bench"]["workload"] not in workloads:
        workloads.append(r["bench"]["workload"])
for w in workloads:
    by = {s: [r["bench"] for r in runs_ if r["server"] == s and r["bench"]["workload"] == w]
          for s in ("zkrs", "apache")}
    ops = [o["op"] for o in by["zkrs"][0]["per_op"]]
    first = True
    for op in ops:
        def m(s, k):
            vals = [o[k] for b in by[s] for o in b["per_op"] if o["op"] == op]
            return med(vals) if vals else float("nan")
        def e(s):
            return sum(o["errors"] for b in by[s] for o in b["per_op"] if o["op"] == op)
        z, a = m("zkrs", "ops_per_sec"), m("apache", "ops_per_sec")
        zp99, ap99 = m("zkrs", "p99_ms"), m("apache", "p99_ms")
        extra = ["", "", "", ""]
        if first:
            extra = [f"{med(b['server_cpu_s_per_100k_ops'] for b in by['zkrs']):.2f}",
                     f"{med(b['server_cpu_s_per_100k_ops'] for b in by['apache']):.2f}",
                     f"{med(b['server_rss_kib'] for b in by['zkrs']) / 1024:.0f}",
                     f"{med(b['server_rss_kib'] for b in by['apache']) / 1024:.0f}"]
        errs = ""
        if e("zkrs") or e("apache"):
            errs = f" (errors: zkrs {e('zkrs')}, Apache {e('apache')})"
        print(f"| {w if first else ''} | {op}{errs} | {z:.0f} | {m('zkrs','p50_ms'):.2f} | {zp99:.2f} "
              f"| {a:.0f} | {m('apache','p50_ms'):.2f} | {ap99:.2f} | {z / a:.2f} | {zp99 / ap99:.2f} | "
              + " | ".join(extra) + " |")
        first = False
zc = med(b["bench"]["client_cpu_s"] / b["bench"]["seconds"] for b in runs_)
print(f"\nstart to first served request (fresh data directory): zkrs {starts['zkrs']:.1f} ms, "
      f"Apache {starts['apache']:.1f} ms, ratio {starts['zkrs'] / starts['apache']:.3f}")
print(f"bench client CPU: median {100 * zc:.0f}% of one core during a run")
oc = [r.get("others_cpu_pct", 0) for r in runs_]
print(f"CPU used by other processes during the runs: median {med(oc):.0f}%, max {max(oc):.0f}% of one CPU")
PY
else
  for s in zkrs apache; do
    fresh "$s"
    start "$s"
  done
  sleep 2
  for s in zkrs apache; do
    echo "{\"kind\":\"rss\",\"server\":\"$s\",\"znodes\":0,\"nodes\":$(node_count "${PORT[$s]}"),\"rss_kib\":$(rss_settled_kib "${PID[$s]}"),\"hwm_kib\":$(hwm_kib "${PID[$s]}")}" >> "$OUT"
  done
  loaded=0
  for n in $MEM_COUNTS; do
    for s in zkrs apache; do
      wait_quiet
      echo "loading $s to $n znodes (load $(cut -d' ' -f1 /proc/loadavg)) ..." >&2
      line=$(bench "$s" populate --sessions "$POP_SESSIONS" --inflight "$POP_INFLIGHT" \
               --start "$loaded" --count $((n - loaded)) --value-size 100)
      sleep 2
      rss=$(rss_settled_kib "${PID[$s]}")
      live=null
      if [ "$s" = apache ] && command -v jcmd > /dev/null; then
        live=$(jvm_live_heap_kib "${PID[$s]}")
        [ -n "$live" ] || live=null
      fi
      echo "{\"kind\":\"rss\",\"server\":\"$s\",\"znodes\":$n,\"nodes\":$(node_count "${PORT[$s]}"),\"rss_kib\":$rss,\"hwm_kib\":$(hwm_kib "${PID[$s]}"),\"jvm_live_heap_kib\":$live,\"load\":$line}" >> "$OUT"
    done
    loaded=$n
  done
  for r in $(seq 1 "$RUNS"); do
    for s in $(order "$r"); do
      stop "$s"
      wait_quiet
      echo "restart $r: $s (load $(cut -d' ' -f1 /proc/loadavg))" >&2
      start "$s"
      echo "{\"kind\":\"restart\",\"server\":\"$s\",\"run\":$r,\"start_to_serve_ms\":$START_MS,\"nodes\":$(node_count "${PORT[$s]}"),\"rss_kib\":$(rss_settled_kib "${PID[$s]}")}" >> "$OUT"
    done
  done
  du_z=$(du -sk "$WORK/zkrs-data" | cut -f1)
  du_a=$(du -sk "$WORK/apache-data" | cut -f1)
  echo "# $(machine)"
  python3 - "$OUT" "$du_z" "$du_a" "$APACHE_HEAP" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
du = {"zkrs": int(sys.argv[2]), "apache": int(sys.argv[3])}
heap = sys.argv[4]
rss = {(r["server"], r["znodes"]): r for r in rows if r["kind"] == "rss"}
rst = [r for r in rows if r["kind"] == "restart"]
mb = lambda k: k / 1024
print(f"Apache heap -Xmx{heap}\n")
print("| | zkrs | Apache | ratio |")
print("|---|--:|--:|--:|")
counts = sorted({n for (_, n) in rss})
big = counts[-1]
for n in counts:
    z, a = rss[("zkrs", n)], rss[("apache", n)]
    print(f"| RSS, {n:,} znodes of 100 B (server reports {z['nodes']} / {a['nodes']} nodes) | "
          f"{mb(z['rss_kib']):.0f} MB | {mb(a['rss_kib']):.0f} MB | {z['rss_kib'] / a['rss_kib']:.3f} |")
    print(f"| peak RSS (VmHWM) so far | {mb(z['hwm_kib']):.0f} MB | {mb(a['hwm_kib']):.0f} MB | "
          f"{z['hwm_kib'] / a['hwm_kib']:.3f} |")
    if a.get("jvm_live_heap_kib"):
        print(f"| Apache: Java heap in use after a full GC (jcmd), {n:,} znodes | | "
              f"{mb(a['jvm_live_heap_kib']):.0f} MB | {z['rss_kib'] / a['jvm_live_heap_kib']:.3f} |")
for n in counts[1:]:
    bz = (rss[("zkrs", n)]["rss_kib"] - rss[("zkrs", 0)]["rss_kib"]) * 1024 / n
    ba = (rss[("apache", n)]["rss_kib"] - rss[("apache", 0)]["rss_kib"]) * 1024 / n
    print(f"| bytes per znode (RSS growth / {n:,}) | {bz:.0f} | {ba:.0f} | {bz / ba:.3f} |")
for n in counts[1:]:
    lz, la = rss[("zkrs", n)]["load"], rss[("apache", n)]["load"]
    print(f"| load to {n:,}: creates/s (p99 ms) | {lz['ops_per_sec']:.0f} ({lz['per_op'][0]['p99_ms']:.1f}) | "
          f"{la['ops_per_sec']:.0f} ({la['per_op'][0]['p99_ms']:.1f}) | {lz['ops_per_sec'] / la['ops_per_sec']:.2f} |")
rz = st.median(r["start_to_serve_ms"] for r in rst if r["server"] == "zkrs")
ra = st.median(r["start_to_serve_ms"] for r in rst if r["server"] == "apache")
nz = [r["nodes"] for r in rst if r["server"] == "zkrs"]
na = [r["nodes"] for r in rst if r["server"] == "apache"]
print(f"| restart with {big:,} znodes to first served request, median of {len(nz)} (nodes after: {nz[-1]} / {na[-1]}) "
      f"| {rz:.0f} ms | {ra:.0f} ms | {rz / ra:.3f} |")
qz = st.median(r["rss_kib"] for r in rst if r["server"] == "zkrs")
qa = st.median(r["rss_kib"] for r in rst if r["server"] == "apache")
print(f"| RSS after restart with {big:,} znodes | {mb(qz):.0f} MB | {mb(qa):.0f} MB | {qz / qa:.3f} |")
print(f"| data on disk (dataDir) | {mb(du['zkrs']):.0f} MB | {mb(du['apache']):.0f} MB | {du['zkrs'] / du['apache']:.3f} |")
PY
fi
