#!/usr/bin/env bash
# `make demo`: nfp's main job on its embedded default. Until the policy pipeline lands this is the density
# demo: fit the NF-P spline flow and the NinA affine flow to two toy densities and compare their test NLL
# with the true entropy (the best any model can reach).
set -euo pipefail
BUILD=${1:-build}
NFP="$BUILD/apps/nfp/nfp"
OUT=${NFP_DEMO_OUT:-demo-out}
STEPS=${NFP_DEMO_STEPS:-1500}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # small models train fastest on one thread

summary=""
for toy in 8-gaussians checkerboard; do
  for flow in spline affine; do
    echo "== nfp density fit --toy $toy --flow $flow --steps $STEPS --out $OUT/$toy-$flow"
    result=$("$NFP" density fit --toy "$toy" --flow "$flow" --steps "$STEPS" --out "$OUT/$toy-$flow" | tail -n 1)
    echo "$result"
    summary+=$(printf '%-13s %-7s %s' "$toy" "$flow" "$result")$'\n'
  done
done
"$NFP" density sample --model "$OUT/8-gaussians-spline" -n 2000 --out "$OUT/8-gaussians-samples.csv"
echo
echo "Negative log-likelihood in nats/sample (lower is better; the true entropy is the floor):"
printf '%s' "$summary"
echo "Models and samples are in $OUT/."
