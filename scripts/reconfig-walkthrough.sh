#!/usr/bin/env bash
# Grows a local 3-member zkrs ensemble to 5 and shrinks it back to 3 with `reconfig`, while
# a client keeps writing: the README's "Grow and shrink a local ensemble" section, step by
# step. Every member runs on 127.0.0.1 (clients 2181.., quorum 2888.., election 3888..);
# everything lives under DIR (default: a new temporary directory) and every process it
# starts is stopped when it ends.
#
#   scripts/reconfig-walkthrough.sh [DIR]
#
# Environment: ZKRS_BIN (where zkrs-server and zkrs-cli are; default: PATH, else
# target/release, else target/debug), HOST (default 127.0.0.1), WRITE_SECS (how long the
# writer runs, default 30). Exits non-zero if any step does not do what it says.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="${1:-$(mktemp -d -t zkrs-reconfig-XXXXXX)}"
HOST="${HOST:-127.0.0.1}"
WRITE_SECS="${WRITE_SECS:-30}"
if [ -n "${ZKRS_BIN:-}" ]; then BIN="$ZKRS_BIN/";
elif command -v zkrs-server >/dev/null; then BIN="";
elif [ -x target/release/zkrs-server ]; then BIN="target/release/";
else BIN="target/debug/"; fi
# The super user may reconfigure: super:secret (digest: base64(sha1("super:secret"))).
SUPER_DIGEST='super:lK75jTNcA+U9vtVEw5vB51mj/w4='

pids=()
declare -A member_pid
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

line() { echo "server.$1=$HOST:$((2887 + $1)):$((3887 + $1)):participant;$HOST:$((2180 + $1))"; }

# Member N's files: zoo.cfg (the static settings) and zoo.cfg.dynamic (the membership it
# starts with: members 1..LAST, plus itself).
configure() {
    local n="$1" last="$2" d="$DIR/m$1"
    mkdir -p "$d/data"
    echo "$n" > "$d/data/myid"
    cat > "$d/zoo.cfg" <<EOF
tickTime=500
initLimit=10
syncLimit=5
dataDir=$d/data
reconfigEnabled=true
DigestAuthenticationProvider.superDigest=$SUPER_DIGEST
4lw.commands.whitelist=*
admin.enableServer=false
dynamicConfigFile=$d/zoo.cfg.dynamic
EOF
    : > "$d/zoo.cfg.dynamic"
    for i in $(seq 1 "$last"); do line "$i" >> "$d/zoo.cfg.dynamic"; done
    if [ "$n" -gt "$last" ]; then line "$n" >> "$d/zoo.cfg.dynamic"; fi
}

start() {
    "${BIN}zkrs-server" "$DIR/m$1/zoo.cfg" > "$DIR/m$1/server.log" 2>&1 &
    pids+=("$!")
    member_pid[$1]=$!
    echo "member $1 started (pid $!, log $DIR/m$1/server.log)"
}

# Waits (at most 60 s) until member N serves; prints its mode as zkServer.sh status does.
serving() {
    for _ in $(seq 600); do
        if "${BIN}zkrs-server" status "$DIR/m$1/zoo.cfg" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "member $1 does not serve:" >&2
    tail -n 20 "$DIR/m$1/server.log" >&2
    return 1
}

# zkrs-cli (or zkCli.sh) commands on member 1, as the super user.
cli() { printf 'addauth digest super:secret\n%s\n' "$*" | "${BIN}zkrs-cli" -server "$HOST:2181"; }

# The participants' ids in member N's /zookeeper/config.
participants() {
    printf 'config\n' | "${BIN}zkrs-cli" -server "$HOST:$((2180 + $1))" |
        sed -n 's/^server\.\([0-9]*\)=.*participant.*/\1/p' | sort -n | tr '\n' ' '
}

expect_participants() {
    local want="$1"; shift
    for n in "$@"; do
        local got
        got="$(participants "$n")"
        [ "$got" = "$want" ] || { echo "member $n has participants '$got', not '$want'" >&2; exit 1; }
    done
    echo "members $*: participants $want"
}

echo "== three members, in $DIR"
for n in 1 2 3; do configure "$n" 3; start "$n"; done
for n in 1 2 3; do serving "$n"; done

echo "== a client writes for ${WRITE_SECS}s meanwhile (zkrs-cli bench write)"
"${BIN}zkrs-cli" bench write -c "$HOST:2181,$HOST:2182,$HOST:2183" --no-spread -s 3 \
    -d "$WRITE_SECS" -w 0 --no-progress --json > "$DIR/writer.json" 2> "$DIR/writer.err" &
writer=$!
pids+=("$writer")

for n in 4 5; do
    echo "== member $n joins: it starts with the members' lines plus its own, follows without a vote"
    configure "$n" "$((n - 1))"
    start "$n"
    serving "$n"
    echo "== reconfig -add $(line "$n")"
    cli "reconfig -add $(line "$n")"
done
expect_participants "1 2 3 4 5 " 1 2 3 4 5

echo "== reconfig -remove 4,5, then stop them"
cli "reconfig -remove 4,5"
expect_participants "1 2 3 " 1 2 3
for n in 4 5; do kill "${member_pid[$n]}"; done

echo "== the writer's report"
wait "$writer" || { echo "the writer failed:" >&2; cat "$DIR/writer.err" >&2; exit 1; }
cat "$DIR/writer.json"
echo
# Sessions move between members within their timeout; no write may fail.
grep -q '"errors":0,' "$DIR/writer.json" || { echo "the writer saw errors" >&2; exit 1; }
echo "walkthrough done: 3 -> 5 -> 3 members"
