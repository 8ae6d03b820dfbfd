#!/usr/bin/env bash
# nfp's main job (`make demo`): on push-two-goals, whose expert demonstrations are bimodal (the block goes to
# the left or the right goal), train a normalizing-flow policy (NF-P spline head; FLOW=nina-mlp for NinA) and the regression baseline on
# the same demonstrations with the same encoder, calibrate each one's failure monitor (the flow's likelihood; the
# regressor's chunk consistency), evaluate both on 50 episodes whose seeds were never used for collection or
# calibration, and print success, latency and what the monitor caught side by side. A regressor averages the two
# modes and pushes the block between the goals; the flow samples one mode per chunk. Ends with a report page
# (`nfp report`) of both runs: training curves, success with its interval, latency, the monitor's score traces, and
# rollout videos (every episode is filmed; the page shows the first failure and the first success first).
#   usage: scripts/demo.sh [BUILD_DIR]     env: DEMO_DIR (outputs), FLOW (head, default nfp-spline), FLOW_STEPS (default 1000)
set -euo pipefail

BUILD=${1:-build}
NFP="$BUILD/apps/nfp/nfp"
OUT=${DEMO_DIR:-$BUILD/demo}
FLOW=${FLOW:-nfp-spline}
EPISODES=${DEMO_EPISODES:-200}        # demonstrations, seeds 0..199
EVAL_EPISODES=${DEMO_EVAL_EPISODES:-50}
EVAL_SEED=100000                      # evaluation seeds 100000.., disjoint from collection
CAL_EPISODES=60                       # monitor calibration: enough successes that alpha 0.05 gives a threshold
CAL_SEED=300000                       # disjoint from collection and evaluation
export OMP_NUM_THREADS=1              # small nets: one thread per process is fastest; two runs share 2 cores

[ -x "$NFP" ] || { echo "demo: $NFP not found; build first (make build)" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT"
start=$(date +%s)

echo "== 1/4 collect $EPISODES push-two-goals demonstrations (seeds 0..$((EPISODES - 1)))"
"$NFP" collect --task push-two-goals --episodes "$EPISODES" --seed 0 --out "$OUT/demos.hdf5"

echo "== 2/4 train $FLOW and regression (same data, same state-MLP encoder), in parallel"
"$NFP" train --data "$OUT/demos.hdf5" --policy "$FLOW" --out "$OUT/$FLOW" --steps "${FLOW_STEPS:-1000}" --no-progress --json \
  > "$OUT/train_$FLOW.log" 2>&1 &
flow_pid=$!
"$NFP" train --data "$OUT/demos.hdf5" --policy regression --out "$OUT/regression" --no-progress --json \
  > "$OUT/train_regression.log" 2>&1 &
reg_pid=$!
fail=0
wait $flow_pid || { echo "demo: training $FLOW failed:" >&2; tail -5 "$OUT/train_$FLOW.log" >&2; fail=1; }
wait $reg_pid || { echo "demo: training regression failed:" >&2; tail -5 "$OUT/train_regression.log" >&2; fail=1; }
[ $fail -eq 0 ] || exit 1
grep -h "^trained" "$OUT/train_$FLOW.log" "$OUT/train_regression.log"

echo "== 3/4 calibrate each policy's failure monitor on $CAL_EPISODES episodes (seeds $CAL_SEED..)"
# the flow's own likelihood (neg_logp); the regressor has none, so the disagreement of its overlapping chunks
"$NFP" monitor calibrate --checkpoint "$OUT/$FLOW" --episodes "$CAL_EPISODES" --seed "$CAL_SEED" --strategy sbs \
  --no-progress > "$OUT/calibrate_$FLOW.log" 2>&1 &
flow_pid=$!
"$NFP" monitor calibrate --checkpoint "$OUT/regression" --episodes "$CAL_EPISODES" --seed "$CAL_SEED" --score consistency \
  --no-progress > "$OUT/calibrate_regression.log" 2>&1 &
reg_pid=$!
wait $flow_pid || { echo "demo: calibrating $FLOW's monitor failed:" >&2; tail -3 "$OUT/calibrate_$FLOW.log" >&2; fail=1; }
wait $reg_pid || { echo "demo: calibrating regression's monitor failed:" >&2; tail -3 "$OUT/calibrate_regression.log" >&2; fail=1; }
[ $fail -eq 0 ] || exit 1

echo "== 4/4 evaluate both on $EVAL_EPISODES episodes (seeds $EVAL_SEED..), monitor on, every episode filmed"
# the flow picks the most likely of 128 sampled chunks (NF-P's stochastic batch selection)
"$NFP" eval --checkpoint "$OUT/$FLOW" --task push-two-goals --episodes "$EVAL_EPISODES" --seed "$EVAL_SEED" \
  --strategy sbs --monitor --out "$OUT/eval_$FLOW.json" --video "$OUT/videos_$FLOW" --video-episodes "$EVAL_EPISODES" \
  --no-progress > "$OUT/eval_$FLOW.log" 2>&1 &
"$NFP" eval --checkpoint "$OUT/regression" --task push-two-goals --episodes "$EVAL_EPISODES" --seed "$EVAL_SEED" \
  --monitor --out "$OUT/eval_regression.json" --video "$OUT/videos_regression" --video-episodes "$EVAL_EPISODES" \
  --no-progress > "$OUT/eval_regression.log" 2>&1 &
wait
python3 - "$OUT" "$FLOW" <<'PY' || { echo "demo: evaluation failed; see $OUT/eval_*.log" >&2; exit 1; }
import json, sys
out, flow = sys.argv[1], sys.argv[2]
print(f"{'policy':<14}{'success %':>10}{'params':>10}{'chunk p50 ms':>14}{'chunk p99 ms':>14}{'train s':>9}"
      f"  monitor: failures caught, false alarms")
for p in (flow, "regression"):
    e = json.load(open(f"{out}/eval_{p}.json"))
    t = [json.loads(l) for l in open(f"{out}/train_{p}.log") if l.startswith("{")][-1]
    g = e["aggregated"]
    m = g.get("monitor", {})
    caught = "n/a" if m.get("tpr") is None else f"{round(m['tpr'] * m['failures'])}/{m['failures']}"
    print(f"{p:<14}{g['pc_success']:>10.1f}{e['parameters']:>10}{g['chunk_latency_ms_p50']:>14.2f}"
          f"{g['chunk_latency_ms_p99']:>14.2f}{t['seconds']:>9.0f}  {m.get('score', '-')}: {caught}, "
          f"{100 * (m.get('false_alarm_rate') or 0):.0f}% of successes")
PY
"$NFP" report "$OUT" --out "$OUT/report" --title "nfp demo: $FLOW vs regression on push-two-goals" > "$OUT/report.log" 2>&1 ||
  { echo "demo: writing the report failed:" >&2; tail -3 "$OUT/report.log" >&2; exit 1; }
echo "report: $OUT/report/index.html (open it in a browser)"
echo "demo: done in $(( $(date +%s) - start )) s; outputs in $OUT"
