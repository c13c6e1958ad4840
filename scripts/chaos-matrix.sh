#!/usr/bin/env bash
# The chaos matrix on demand: runs zkrs-chaos (tests/src/chaos/) for every workload:nemesis
# pair, ensemble kind and seed below, one after the other, and writes one Markdown table
# row per run to $OUT/rows.md and the table of docs/reliability.md (zkrs, Apache and mixed
# side by side, one row per pair and seed) to $OUT/table.md, with each run's directory
# (history, summary, server logs) beside them.
#
#   scripts/chaos-matrix.sh                 # the long matrix: 36 runs of 4 minutes, ~2h30
#   DURATION=30 scripts/chaos-matrix.sh     # the same pairs, 30 s each (~20 minutes)
#   PAIRS="register:kill-leader" KINDS="zkrs apache mixed" SEEDS="1 2 3" DURATION=600 \
#       scripts/chaos-matrix.sh             # any selection
#
# Exit status 1 if any run found an anomaly or could not be carried out. Needs what
# tests/install-deps.sh installs (Apache ZooKeeper for the apache and mixed kinds; cc for
# the disk, disk-full and reconfig-partition nemeses).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-240}
SEEDS=${SEEDS:-1}
KINDS=${KINDS:-zkrs apache}
MEMBERS=${MEMBERS:-3}
OUT=${OUT:-chaos-matrix}
PAIRS=${PAIRS:-register:mixed register:disk set:mixed set:disk unique-ids:mixed \
unique-ids:disk counter:mixed counter:disk queue:mixed queue:disk sessions:mixed \
sessions:disk watches:mixed watches:disk register:reconfig counter:reconfig set:disk-full \
register:reconfig-partition}

cargo build -q -p zkrs-server --bins
cargo build -q -p zkrs-tests --bin zkrs-chaos
mkdir -p "$OUT"
rows="$OUT/rows.md"
: > "$rows"
status=0
for pair in $PAIRS; do
  workload=${pair%%:*}
  nemesis=${pair#*:}
  for kind in $KINDS; do
    for seed in $SEEDS; do
      dir="$OUT/$workload-$nemesis-$kind-$seed"
      rm -rf "$dir"
      code=0
      line=$(target/debug/zkrs-chaos --seed "$seed" --workload "$workload" \
        --nemesis "$nemesis" --duration "$DURATION" --members "$MEMBERS" --kind "$kind" \
        --out "$dir") || code=$?
      echo "$line"
      if [ "$code" -ne 0 ]; then status=1; fi
      if [ ! -f "$dir/summary.json" ]; then
        echo "| $workload | $nemesis | $kind | $MEMBERS | $seed | ${DURATION}s | - | - | - | run failed (exit $code) | - | \`zkrs-chaos --seed $seed --workload $workload --nemesis $nemesis --duration $DURATION --members $MEMBERS --kind $kind\` |" >> "$rows"
        continue
      fi
      python3 - "$dir/summary.json" >> "$rows" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
result = s["anomalies"] and "**%d anomalies**" % len(s["anomalies"]) or (s["undecided"] and "undecided" or "0")
print("| %s | %s | %s | %d | %d | %ds | %d | %d / %d | %d | %s | %.0f s | `%s` |" % (
    s["workload"], s["nemesis"], s["kind"], s["members"], s["seed"], s["duration_s"],
    s["ops"], s["ok"], s["info"], s["faults"], result, s["elapsed_s"], s["command"]))
PY
    done
  done
done
python3 - "$OUT" > "$OUT/table.md" <<'PY'
import json, pathlib, sys
runs = {}
for f in sorted(pathlib.Path(sys.argv[1]).glob("*/summary.json")):
    s = json.loads(f.read_text())
    runs.setdefault((s["workload"], s["nemesis"], s["seed"], s["duration_s"]), {})[s["kind"]] = s
kinds = [k for k in ("zkrs", "apache", "mixed") if any(k in r for r in runs.values())]
def cell(s):
    if s is None:
        return "—"
    verdict = "%d anomalies" % len(s["anomalies"]) if s["anomalies"] else ("undecided" if s["undecided"] else "0 anomalies")
    return "%d ops (%d ok, %d unknown), %d faults: **%s**" % (s["ops"], s["ok"], s["info"], s["faults"], verdict)
print("| workload | nemesis | seed | duration | " + " | ".join(kinds) + " |")
print("|---|---|---|---|" + "---|" * len(kinds))
for (w, n, seed, d), r in sorted(runs.items()):
    print("| %s | %s | %d | %d s | %s |" % (w, n, seed, d, " | ".join(cell(r.get(k)) for k in kinds)))
PY
echo "rows: $rows; table: $OUT/table.md"
exit $status
