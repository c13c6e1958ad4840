#!/usr/bin/env bash
# A 3-member zkrs ensemble next to a 3-member Apache ZooKeeper ensemble, one after the other
# in one run (only one ensemble runs at a time), both driven by `zkrs-cli bench`.
#
# usage: scripts/bench-ensemble.sh [seconds per run, default 10] [runs, default 3]
#        (runs 0: no throughput runs)
#        (also: scripts/bench-vs-apache.sh ensemble [seconds] [runs])
#
# Each ensemble: members 1-3 on their own loopback address ($IP_BASE.1-3) with the standard
# ports 2181 (clients), 2888 (quorum), 3888 (election); the same zoo.cfg for both
# (tickTime=2000, initLimit=10, syncLimit=5, forceSync=yes, maxClientCnxns=0, snapCount
# default); data under target/bench/. Apache is the Debian package's QuorumPeerMain on the
# system Java (heap APACHE_HEAP, default 2g), logging at INFO through slf4j-simple.
# For each ensemble in turn (zkrs first, then Apache):
#   1. throughput: WORKLOADS with SESSIONS sessions spread over the members (session i on
#      member i mod 3), RUNS runs of SECS seconds each (median): ops/s, p50, p99, and the
#      members' CPU (sum of the three) per 100k ops;
#   2. failover: one writer session (setData, one at a time, connect string with every
#      member) runs; the leader (srvr's Mode) is killed with SIGKILL; the time from the kill
#      until writes are acknowledged again (the end of the longest pause between the
#      writer's acks after the kill: a write committed just before it may still be
#      acknowledged after it). The member is restarted and the next kill waits until it
#      serves again (KILLS kills, median). Each kill also gets a breakdown from the
#      surviving members' logs: when each noticed, started looking, decided, and when the
#      new leader listened, saw its first learner, served; when each follower connected
#      and served (ms after the kill; in the JSON line and summed up in the summary);
#   3. catch-up: SNAP_ZNODES znodes of 100 bytes are loaded (`bench populate`, pipelined);
#      DIFF: a follower is killed, DIFF_TXNS setData are written (pipelined), the follower
#      is restarted: time from its start until srvr reports it serving as a follower with
#      the leader's zxid; SNAP: a follower is killed, its data wiped (myid kept), restarted:
#      the same time (CATCHUP_RUNS of each, median). The sync messages the leader logged
#      are kept in the JSON lines.
#
# Environment: WORKLOADS ("read write mixed90"), SESSIONS (64), INFLIGHT (1), WARMUP (2),
#   JIT_WARMUP (5 s of reads and of writes before measuring), KILLS (3), DIFF_TXNS (100000),
#   SNAP_ZNODES (1000000), CATCHUP_RUNS (2), POP_SESSIONS (64), POP_INFLIGHT (8),
#   (CATCHUP_RUNS=0 also skips the load: `JIT_WARMUP=0 CATCHUP_RUNS=0 KILLS=5
#   scripts/bench-ensemble.sh 10 0` measures failover only), WRITER_STRACE (unset; 1: the failover writer runs under strace, its
#   connect() calls in $LOGS/KIND-writer.strace, to see the client's reconnect attempts;
#   slows the client a little, so not for the figures),
#   KINDS ("zkrs apache"; one of them to run a single ensemble), OUT (the JSON lines file,
#   default target/bench/ensemble.jsonl; appended to when only one kind runs),
#   BIN_DIR (unset: builds and uses target/release; else a directory holding the
#   zkrs-server and zkrs-cli to measure, e.g. an earlier build kept for a before/after),
#   APACHE_HEAP (2g), IP_BASE (127.0.77), SYNC_LIMIT (120 s: a follower not synced by then
#   counts as failed and is restarted), QUIET (20), QUIET_WAIT (60): before each
#   throughput run, wait (at most 2 x QUIET_WAIT s) until other processes use at most
#   QUIET % of a CPU.
# Output: a markdown table on stdout; raw JSON lines in target/bench/ensemble.jsonl; member
# logs in target/bench/ensemble-logs/. Every process started is stopped by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# `summary FILE`: only print the tables of an earlier run's JSON lines.
SUMMARY=""
if [ "${1:-}" = summary ]; then SUMMARY=${2:?usage: $0 summary FILE.jsonl}; fi
SECS=${1:-10}
RUNS=${2:-3}
KINDS=${KINDS:-"zkrs apache"}
OUT=${OUT:-target/bench/ensemble.jsonl}
WORKLOADS=${WORKLOADS:-"read write mixed90"}
SESSIONS=${SESSIONS:-64}
INFLIGHT=${INFLIGHT:-1}
WARMUP=${WARMUP:-2}
JIT_WARMUP=${JIT_WARMUP:-5}
KILLS=${KILLS:-3}
DIFF_TXNS=${DIFF_TXNS:-100000}
SNAP_ZNODES=${SNAP_ZNODES:-1000000}
CATCHUP_RUNS=${CATCHUP_RUNS:-2}
POP_SESSIONS=${POP_SESSIONS:-64}
POP_INFLIGHT=${POP_INFLIGHT:-8}
APACHE_HEAP=${APACHE_HEAP:-2g}
IP_BASE=${IP_BASE:-127.0.77}
QUIET=${QUIET:-20}
QUIET_WAIT=${QUIET_WAIT:-60}
SYNC_LIMIT=${SYNC_LIMIT:-120}
WRITER_STRACE=${WRITER_STRACE:-}
JAR=/usr/share/java/zookeeper.jar
SLF4J=/usr/share/java/slf4j-simple.jar
N=3

if [ ! -f "$JAR" ] || ! command -v java > /dev/null; then
  echo "installing Apache ZooKeeper (Debian package zookeeper)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y zookeeper >&2; else sudo apt-get install -y zookeeper >&2; fi
fi
if [ ! -f "$SLF4J" ]; then
  echo "installing slf4j-simple (Debian package libslf4j-java) for Apache's logs" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y libslf4j-java >&2; else sudo apt-get install -y libslf4j-java >&2; fi
fi

WORK=""
LOGS=target/bench/ensemble-logs
if [ -z "$SUMMARY" ]; then
  if [ -n "${BIN_DIR:-}" ]; then
    BIN=$(cd "$BIN_DIR" && pwd)
  else
    cargo build --release -q -p zkrs-server --bin zkrs-server -p zkrs-client --bin zkrs-cli
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
  fi
  CLI=$BIN/zkrs-cli
  mkdir -p target/bench
  WORK=$(mktemp -d -p "$ROOT/target/bench" ensemble.XXXXXX)
  mkdir -p "$LOGS"
  for kind in $KINDS; do rm -f "$LOGS/$kind"-*; done
  if [ "$KINDS" = "zkrs apache" ]; then : > "$OUT"; fi
fi

declare -A PID
WRITER=""
# The writer's process: under WRITER_STRACE, strace's child (strace itself does not stop
# its tracee when told to end).
writer_pids() {
  if [ -n "$WRITER" ]; then
    if [ -n "$WRITER_STRACE" ]; then pgrep -P "$WRITER" || true; fi
    echo "$WRITER"
  fi
}
cleanup() {
  for p in "${PID[@]}" $(writer_pids); do
    if [ -n "$p" ]; then kill -9 "$p" 2> /dev/null || true; fi
  done
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip() { echo "$IP_BASE.$1"; }
ALL=$(for i in $(seq 1 $N); do printf '%s:2181,' "$(ip "$i")"; done)
ALL=${ALL%,}

# srvr of one member as "mode zxid" (decimal), or "down -1".
srvr() { # host
  python3 - "$1" <<'PY'
import socket, sys
mode, zxid = "down", -1
try:
    s = socket.create_connection((sys.argv[1], 2181), timeout=2)
    s.settimeout(2)
    s.sendall(b"srvr")
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    for line in data.decode(errors="replace").splitlines():
        if line.startswith("Mode:"):
            mode = line.split(":", 1)[1].strip()
        elif line.startswith("Zxid:"):
            zxid = int(line.split(":", 1)[1].strip(), 16)
except OSError:
    pass
print(mode, zxid)
PY
}

# Polls a member's srvr until it serves as a follower (or leader) with at least the given
# zxid; prints the milliseconds since T0 (Unix ns). Gives up after LIMIT seconds (prints -1).
wait_synced() { # host min_zxid t0_ns limit_s
  python3 - "$@" <<'PY'
import socket, sys, time
host, want, t0, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
def srvr():
    try:
        s = socket.create_connection((host, 2181), timeout=1)
        s.settimeout(1)
        s.sendall(b"srvr")
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except OSError:
        return None, -1
    mode, zxid = None, -1
    for line in data.decode(errors="replace").splitlines():
        if line.startswith("Mode:"):
            mode = line.split(":", 1)[1].strip()
        elif line.startswith("Zxid:"):
            zxid = int(line.split(":", 1)[1].strip(), 16)
    return mode, zxid
end = time.time() + limit
while time.time() < end:
    mode, zxid = srvr()
    if mode in ("follower", "leader") and zxid >= want:
        print(f"{(time.time_ns() - t0) / 1e6:.1f}")
        sys.exit(0)
    time.sleep(0.005)
print(-1)
PY
}

write_cfg() { # kind member
  local d=$WORK/$1/m$2
  mkdir -p "$d/data"
  echo "$2" > "$d/data/myid"
  {
    echo "tickTime=2000"
    echo "initLimit=10"
    echo "syncLimit=5"
    echo "dataDir=$d/data"
    echo "clientPort=2181"
    echo "clientPortAddress=$(ip "$2")"
    echo "maxClientCnxns=0"
    echo "forceSync=yes"
    echo "admin.enableServer=false"
    for i in $(seq 1 $N); do echo "server.$i=$(ip "$i"):2888:3888"; done
  } > "$d/zoo.cfg"
}

nlog=0
start_member() { # kind member
  local d=$WORK/$1/m$2
  nlog=$((nlog + 1))
  if [ "$1" = zkrs ]; then
    "$BIN/zkrs-server" "$d/zoo.cfg" > "$LOGS/$1-m$2.$nlog.log" 2>&1 &
  else
    java "-Xmx$APACHE_HEAP" -Dzookeeper.forceSync=yes -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
      -Dorg.slf4j.simpleLogger.showDateTime=true \
      "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSXXX" \
      -cp "$JAR:$SLF4J" org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg" \
      > "$LOGS/$1-m$2.$nlog.log" 2>&1 &
  fi
  PID[$1.$2]=$!
  LOG[$2]=$LOGS/$1-m$2.$nlog.log
}
declare -A LOG

# kill -9 and wait until the process is gone and its client port closed.
listening() { (exec 3<> "/dev/tcp/$1/2181") 2> /dev/null; }
kill_member() { # kind member
  local p=${PID[$1.$2]}
  kill -9 "$p" 2> /dev/null || true
  for _ in $(seq 1 1000); do
    if { [ ! -d "/proc/$p" ] || grep -q '^State:.*Z' "/proc/$p/status" 2> /dev/null; } \
       && ! listening "$(ip "$2")"; then
      wait "$p" 2> /dev/null || true
      PID[$1.$2]=""
      return 0
    fi
    sleep 0.01
  done
  echo "process $p did not exit" >&2
  exit 1
}

# The member that srvr says leads (waits at most 120 s for one; prints 0 if none).
leader() {
  local i
  for _ in $(seq 1 600); do
    for i in $(seq 1 $N); do
      if [ "$(srvr "$(ip "$i")" | cut -d' ' -f1)" = leader ]; then echo "$i"; return 0; fi
    done
    sleep 0.2
  done
  echo 0
}
leader_zxid() { srvr "$(ip "$1")" | cut -d' ' -f2; }

# Waits (at most 120 s) until every member serves, as leader or follower.
wait_ensemble() {
  local i ok
  for _ in $(seq 1 600); do
    ok=0
    for i in $(seq 1 $N); do
      case "$(srvr "$(ip "$i")" | cut -d' ' -f1)" in leader|follower) ok=$((ok + 1)) ;; esac
    done
    [ "$ok" = $N ] && return 0
    sleep 0.2
  done
  echo "the ensemble did not form within 120 s; logs in $LOGS" >&2
  exit 1
}

HZ=$(getconf CLK_TCK)
machine_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
proc_cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
members_cpu() { # kind: CPU ticks of the running members
  local i t=0
  for i in $(seq 1 $N); do t=$((t + $(proc_cpu_ticks "${PID[$1.$i]}"))); done
  echo "$t"
}
wait_quiet() { # kind (its members' own CPU does not count)
  local a b ma mb i busy
  for i in $(seq 1 "$QUIET_WAIT"); do
    a=$(machine_busy); ma=$(members_cpu "$1"); sleep 2; b=$(machine_busy); mb=$(members_cpu "$1")
    busy=$((((b - a) - (mb - ma)) * 50 / HZ))
    if [ "$busy" -le "$QUIET" ]; then return 0; fi
    [ "$i" = 1 ] && echo "waiting for the machine to be quiet ($busy% busy)" >&2
  done
  echo "the machine is still busy; measuring anyway" >&2
}

machine() {
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/^Mem:/ {print $2}') GB RAM, Linux $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
}

bench() { # workload args...
  local w=$1
  shift
  "$CLI" bench "$w" --json --no-progress "$@"
}

# Write unavailability after a kill at T0 (Unix ns), from the writer's ack log: the end of
# the longest pause between acknowledged writes from T0 on (the last ack before T0 starts
# the first interval), in ms after T0. A write committed before the kill may still be
# acknowledged just after it (through a follower), so the first ack after T0 is not the
# measure. Waits until acks have flowed again for 1 s after that pause (at most 60 s;
# prints -1 if the writer never recovers).
failover_ms() { # file t0_ns
  python3 - "$@" <<'PY'
import sys, time
path, t0 = sys.argv[1], int(sys.argv[2])
end = time.time() + 60
while time.time() < end:
    acks = [int(x) for x in open(path).read().split()]
    before = [a for a in acks if a <= t0][-1:]
    after = before + [a for a in acks if a > t0]
    if len(after) >= 2:
        gap, i = max((after[j + 1] - after[j], j) for j in range(len(after) - 1))
        stop = after[i + 1]
        if after[-1] >= stop + 1_000_000_000:
            print(f"{(stop - t0) / 1e6:.1f}")
            sys.exit(0)
    time.sleep(0.1)
print(-1)
PY
}

# Where a failover's time went, from the surviving members' logs: the first time each
# event was logged after the kill at T0 (Unix ns), in ms after T0, as a JSON object
# {"m<i>": {"event": ms, ...}, ...}. Each LOG:FROM pair is a member's log and the line it
# had reached at the kill.
failover_breakdown() { # kind t0_ns member:log:from...
  python3 - "$@" <<'PY'
import datetime, json, re, sys
kind, t0 = sys.argv[1], int(sys.argv[2])
EVENTS = {
    "zkrs": [
        ("noticed", r"role ended: looking for a leader again"),
        ("looking", r"looking for a leader: round"),
        ("decided", r"election decided"),
        ("listening", r"leading: quorum port listening"),
        ("learner_connected", r"learner connected"),
        ("connecting", r"following: connecting to the leader"),
        ("serving", r"a quorum has synced: serving|synced with the leader: serving"),
    ],
    "apache": [
        ("noticed", r"Exception when following the leader|Disconnected from leader|PeerState set to LOOKING"),
        ("looking", r"Peer state changed: looking"),
        ("decided", r"LEADER ELECTION TOOK"),
        ("learner_connected", r"Follower sid: \d+ : info :|Synchronizing with Learner sid"),
        ("serving", r"Have quorum of supporters|Learner received UPTODATE"),
    ],
}[kind]
stamp = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)(Z|[+-]\d\d:?\d\d)?")
def ns(line):
    m = stamp.search(line[:60])
    if not m:
        return None
    text, tz = m.group(1), m.group(2) or "Z"
    if "." in text:
        head, frac = text.split(".")
        text = head + "." + (frac + "000000")[:6]
    tz = "+00:00" if tz == "Z" else (tz if ":" in tz else tz[:3] + ":" + tz[3:])
    t = datetime.datetime.fromisoformat(text + tz)
    return int(t.timestamp() * 1e9)
out = {}
for spec in sys.argv[3:]:
    member, path, start = spec.split(":")
    seen = {}
    with open(path, errors="replace") as f:
        for n, line in enumerate(f, 1):
            if n < int(start):
                continue
            line = re.sub(r"\x1b\[[0-9;]*m", "", line)
            t = ns(line)
            if t is None or t < t0:
                continue
            for name, pat in EVENTS:
                if name not in seen and re.search(pat, line):
                    seen[name] = round((t - t0) / 1e6, 1)
    out[member] = seen
print(json.dumps(out))
PY
}

# The writer's connect() calls after T0 (from WRITER_STRACE's file): how many, to where,
# and at what ms after the kill, as JSON.
writer_connects() { # strace_file t0_ns
  python3 - "$@" <<'PY'
import datetime, json, re, sys
path, t0 = sys.argv[1], int(sys.argv[2])
day = datetime.datetime.now(datetime.timezone.utc).astimezone()
out = []
for line in open(path, errors="replace"):
    m = re.search(r"(\d\d):(\d\d):(\d\d)\.(\d+) connect\(.*sin_port=htons\((\d+)\).*inet_addr\(\"([\d.]+)\"\)", line)
    if not m:
        continue
    h, mi, s, us, port, addr = m.groups()
    t = day.replace(hour=int(h), minute=int(mi), second=int(s), microsecond=int(us[:6]))
    ms = (int(t.timestamp() * 1e9) - t0) / 1e6
    if 0 <= ms < 60_000:
        out.append([round(ms, 1), addr])
print(json.dumps(out))
PY
}

# How the leader synchronised learners (zkrs: "synchronising learner ... mode=diff|snap|trunc";
# Apache: "Sending DIFF|TRUNC|snapshot"), as logged since line FROM of its log.
sync_lines() { # log from
  tail -n +"$2" "$1" | sed 's/\x1b\[[0-9;]*m//g' \
    | { grep -iE 'synchronising learner|Sending (DIFF|TRUNC|SNAP)' || true; } | tail -n 3 \
    | python3 -c 'import json, sys; print(json.dumps([l.strip()[-200:] for l in sys.stdin]))'
}

if [ -z "$SUMMARY" ]; then
echo "# $(machine)"
echo "# $(java -version 2>&1 | head -1), Apache ZooKeeper $(dpkg-query -W -f '${Version}' zookeeper 2> /dev/null || echo '?'), heap $APACHE_HEAP"

for kind in $KINDS; do
  echo "== $kind ensemble ($ALL)" >&2
  rm -rf "${WORK:?}/$kind"
  for i in $(seq 1 $N); do write_cfg "$kind" "$i"; done
  for i in $(seq 1 $N); do start_member "$kind" "$i"; done
  wait_ensemble
  echo "ensemble up, leader: member $(leader)" >&2

  # 1. throughput
  if [ "$JIT_WARMUP" != 0 ]; then
    echo "warming up ..." >&2
    for w in read write; do
      bench "$w" -c "$ALL" --sessions "$SESSIONS" --duration "$JIT_WARMUP" --warmup 0 > /dev/null
    done
  fi
  for w in $WORKLOADS; do
    for r in $(seq 1 "$RUNS"); do
      wait_quiet "$kind"
      echo "$w run $r: $kind (load $(cut -d' ' -f1 /proc/loadavg))" >&2
      m0=$(machine_busy); c0=$(members_cpu "$kind"); t0=$(date +%s.%N)
      line=$(bench "$w" -c "$ALL" --sessions "$SESSIONS" --inflight "$INFLIGHT" \
               --duration "$SECS" --warmup "$WARMUP")
      m1=$(machine_busy); c1=$(members_cpu "$kind"); t1=$(date +%s.%N)
      echo "{\"kind\":\"run\",\"server\":\"$kind\",\"run\":$r,\"members_cpu_s\":$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN { print (b - a) / hz }'),\"machine_busy_s\":$(awk -v a="$m0" -v b="$m1" -v hz="$HZ" 'BEGIN { print (b - a) / hz }'),\"wall_s\":$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'),\"bench\":$line}" >> "$OUT"
    done
  done

  # 2. failover
  acks=$WORK/$kind-acks
  : > "$acks"
  trace=()
  if [ -n "$WRITER_STRACE" ]; then
    trace=(strace -f -tt --seccomp-bpf -e trace=connect -o "$LOGS/$kind-writer.strace")
  fi
  "${trace[@]}" "$CLI" bench write -c "$ALL" --no-spread --sessions 1 --keys 100 --duration 86400 --warmup 0 \
    --ack-log "$acks" --no-progress > "$LOGS/$kind-writer.log" 2>&1 &
  WRITER=$!
  for _ in $(seq 1 3000); do [ -s "$acks" ] && break; sleep 0.01; done
  [ -s "$acks" ] || { echo "the failover writer acknowledged nothing: $LOGS/$kind-writer.log" >&2; exit 1; }
  for k in $(seq 1 "$KILLS"); do
    l=$(leader)
    [ "$l" = 0 ] && { echo "no leader; logs in $LOGS" >&2; exit 1; }
    sleep 2
    n0=$(wc -l < "$acks")
    survivors=()
    for i in $(seq 1 $N); do
      if [ "$i" != "$l" ]; then survivors+=("m$i:${LOG[$i]}:$(( $(wc -l < "${LOG[$i]}") + 1 ))"); fi
    done
    t0=$(date +%s%N)
    kill -9 "${PID[$kind.$l]}"
    ms=$(failover_ms "$acks" "$t0")
    kill_member "$kind" "$l"
    nl=$(leader)
    parts=$(failover_breakdown "$kind" "$t0" "${survivors[@]}")
    connects=null
    if [ -n "$WRITER_STRACE" ]; then connects=$(writer_connects "$LOGS/$kind-writer.strace" "$t0"); fi
    echo "failover $k: $kind, killed leader $l, new leader $nl, writes acknowledged again $ms ms after the kill" >&2
    echo "  members (ms after the kill): $parts" >&2
    if [ "$connects" != null ]; then echo "  writer's connects (ms, member): $connects" >&2; fi
    echo "{\"kind\":\"failover\",\"server\":\"$kind\",\"kill\":$k,\"killed\":$l,\"new_leader\":$nl,\"write_outage_ms\":$ms,\"acks_before\":$n0,\"breakdown\":$parts,\"writer_connects\":$connects}" >> "$OUT"
    [ "$ms" = -1 ] && { echo "no write acknowledged within 60 s of the kill; logs in $LOGS" >&2; exit 1; }
    start_member "$kind" "$l"
    wait_ensemble
  done
  for p in $(writer_pids); do kill "$p" 2> /dev/null || true; done
  wait "$WRITER" 2> /dev/null || true
  WRITER=""

  # 3. catch-up
  if [ "$CATCHUP_RUNS" != 0 ]; then
    echo "loading $SNAP_ZNODES znodes ..." >&2
    line=$(bench populate -c "$ALL" --sessions "$POP_SESSIONS" --inflight "$POP_INFLIGHT" \
             --count "$SNAP_ZNODES" --value-size 100)
    echo "{\"kind\":\"populate\",\"server\":\"$kind\",\"znodes\":$SNAP_ZNODES,\"bench\":$line}" >> "$OUT"
    for r in $(seq 1 "$CATCHUP_RUNS"); do
      for how in diff snap; do
        l=$(leader)
        f=$(( l % N + 1 ))
        kill_member "$kind" "$f"
        if [ "$how" = diff ]; then
          others=$(for i in $(seq 1 $N); do if [ "$i" != "$f" ]; then printf '%s:2181,' "$(ip "$i")"; fi; done)
          bench write -c "${others%,}" --sessions "$POP_SESSIONS" --inflight "$POP_INFLIGHT" \
            --ops "$DIFF_TXNS" --warmup 0 > /dev/null
        else
          find "$WORK/$kind/m$f/data" -mindepth 1 ! -name myid -exec rm -rf {} +
        fi
        z=$(leader_zxid "$l")
        from=$(( $(wc -l < "${LOG[$l]}") + 1 ))
        t0=$(date +%s%N)
        start_member "$kind" "$f"
        ms=$(wait_synced "$(ip "$f")" "$z" "$t0" "$SYNC_LIMIT")
        sleep 1
        echo "$how $r: $kind, follower $f synced to zxid $(printf '%#x' "$z") after $ms ms" >&2
        echo "{\"kind\":\"$how\",\"server\":\"$kind\",\"run\":$r,\"leader\":$l,\"follower\":$f,\"zxid\":$z,\"synced_ms\":$ms,\"log\":\"${LOG[$f]}\",\"leader_log\":$(sync_lines "${LOG[$l]}" "$from")}" >> "$OUT"
        if [ "$ms" = -1 ]; then
          # Recorded as a failure (the summary counts it); the member is restarted once more
          # so that the run goes on.
          echo "follower $f did not sync within $SYNC_LIMIT s (its log: ${LOG[$f]}); restarting it" >&2
          kill_member "$kind" "$f"
          start_member "$kind" "$f"
        fi
        wait_ensemble
      done
    done
  fi
  du -sk "$WORK/$kind"/m*/data | awk -v k="$kind" '{ printf "{\"kind\":\"du\",\"server\":\"%s\",\"kib\":%s}\n", k, $1 }' >> "$OUT"

  for i in $(seq 1 $N); do kill_member "$kind" "$i"; done
  rm -rf "${WORK:?}/$kind"
done

echo "# $(machine)"
else
  OUT=$SUMMARY
fi
python3 - "$OUT" "$SESSIONS" "$INFLIGHT" "$SECS" "$RUNS" "$SNAP_ZNODES" "$DIFF_TXNS" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
sessions, inflight, secs, runs, znodes, txns = sys.argv[2:8]
med = st.median
K = ("zkrs", "apache")
runs_ = [r for r in rows if r["kind"] == "run"]
if runs_ and not (secs.isdigit() and runs.isdigit()):  # summary of an earlier run
    secs = f"{med(r['bench']['seconds'] for r in runs_):.0f}"
    runs = str(max(r["run"] for r in runs_))
print(f"3 members each; {sessions} sessions spread over the members x {inflight} in flight, "
      f"{secs} s per run, median of {runs} runs\n")
print("| workload | op | zkrs ops/s | p50 ms | p99 ms | Apache ops/s | p50 ms | p99 ms "
      "| ops ratio | p99 ratio | zkrs CPU s/100k | Apache CPU s/100k |")
print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
workloads = []
for r in runs_:
    if r["bench"]["workload"] not in workloads:
        workloads.append(r["bench"]["workload"])
for w in workloads:
    by = {s: [r for r in runs_ if r["server"] == s and r["bench"]["workload"] == w] for s in K}
    if not by["zkrs"] or not by["apache"]:
        continue
    ops = [o["op"] for o in by["zkrs"][0]["bench"]["per_op"]]
    first = True
    for op in ops:
        def m(s, k):
            vals = [o[k] for r in by[s] for o in r["bench"]["per_op"] if o["op"] == op]
            return med(vals) if vals else float("nan")
        def e(s):
            return sum(o["errors"] for r in by[s] for o in r["bench"]["per_op"] if o["op"] == op)
        def cpu(s):
            return med(r["members_cpu_s"] / max(1, sum(o["count"] for o in r["bench"]["per_op"]))
                       * 100000 * r["bench"]["seconds"] / r["wall_s"] for r in by[s])
        z, a = m("zkrs", "ops_per_sec"), m("apache", "ops_per_sec")
        zp, ap = m("zkrs", "p99_ms"), m("apache", "p99_ms")
        extra = [f"{cpu('zkrs'):.2f}", f"{cpu('apache'):.2f}"] if first else ["", ""]
        errs = f" (errors: zkrs {e('zkrs')}, Apache {e('apache')})" if e("zkrs") or e("apache") else ""
        print(f"| {w if first else ''} | {op}{errs} | {z:.0f} | {m('zkrs', 'p50_ms'):.2f} | {zp:.2f} "
              f"| {a:.0f} | {m('apache', 'p50_ms'):.2f} | {ap:.2f} | {z / a:.2f} | {zp / ap:.2f} | "
              + " | ".join(extra) + " |")
        first = False
print()
print("| | zkrs | Apache | ratio |")
print("|---|--:|--:|--:|")
def row(label, kind, field):
    allv = {s: [r[field] for r in rows if r["kind"] == kind and r["server"] == s] for s in K}
    v = {s: [x for x in allv[s] if x >= 0] for s in K}
    fail = {s: len(allv[s]) - len(v[s]) for s in K}
    if not allv["zkrs"] or not allv["apache"]:
        return
    z = med(v["zkrs"]) if v["zkrs"] else float("nan")
    a = med(v["apache"]) if v["apache"] else float("nan")
    each = lambda s: ", ".join("stuck" if x < 0 else f"{x:.0f}" for x in allv[s])
    note = "".join(f"; {s}: {fail[s]} of {len(allv[s])} never synced, median of the others"
                   for s in K if fail[s])
    print(f"| {label} (median; each: {each('zkrs')} / {each('apache')}{note}) "
          f"| {z:.0f} ms | {a:.0f} ms | {z / a:.2f} |")
row("failover: leader killed to writes acknowledged again", "failover", "write_outage_ms")
row(f"catch-up DIFF: follower down during {int(txns):,} writes, start to synced", "diff", "synced_ms")
row(f"catch-up SNAP: follower wiped, {int(znodes):,} znodes, start to synced", "snap", "synced_ms")
# Where the failover time went (from the members' logs; medians over the kills, ms after
# the kill): the first survivor to notice, the last to start looking (a zkrs member loads
# its state in between), the new leader's decision, its first learner, its serving, and
# the writer's first acknowledged write after the pause.
steps = [
    ("a survivor noticed", lambda b, l: min(v.get("noticed", 1e9) for v in b.values())),
    ("both survivors looking", lambda b, l: max(v.get("looking", -1) for v in b.values())),
    ("the new leader decided", lambda b, l: b.get(l, {}).get("decided", -1)),
    ("its first learner connected", lambda b, l: b.get(l, {}).get("learner_connected", -1)),
    ("it serves (quorum synced)", lambda b, l: b.get(l, {}).get("serving", -1)),
]
fo = {s: [r for r in rows if r["kind"] == "failover" and r["server"] == s and r.get("breakdown")]
      for s in K}
if any(fo.values()):
    print()
    print("| failover step, ms after the kill (median) | " + " | ".join(s for s in K if fo[s]) + " |")
    print("|---|" + "--:|" * sum(1 for s in K if fo[s]))
    for label, f in steps + [("writes acknowledged again", None)]:
        cells = []
        for s in K:
            if not fo[s]:
                continue
            if f is None:
                vals = [r["write_outage_ms"] for r in fo[s]]
            else:
                vals = [f(r["breakdown"], f"m{r['new_leader']}") for r in fo[s]]
            vals = [v for v in vals if 0 <= v < 1e9]
            cells.append(f"{med(vals):.0f}" if vals else "")
        print(f"| {label} | " + " | ".join(cells) + " |")
for s in K:
    p = [r for r in rows if r["kind"] == "populate" and r["server"] == s]
    if p:
        b = p[0]["bench"]
        print(f"| load of {int(znodes):,} znodes: creates/s, {s} | {b['ops_per_sec']:.0f} | | |")
for s in K:
    d = [r["kib"] for r in rows if r["kind"] == "du" and r["server"] == s]
    if d:
        print(f"| data on disk per member at the end, {s} | {', '.join(f'{x / 1024:.0f} MB' for x in d)} | | |")
PY
