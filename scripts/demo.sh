#!/usr/bin/env bash
# make demo: the pipeline end to end on the shipped example protocols.
# The examples ship without real data, so participants and outcomes are simulated
# from each protocol's own assumptions (bitframe simulate).
set -euo pipefail
cd "$(dirname "$0")/.."
BF=.venv/bin/bitframe
OUT=demo-output
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== validate the example protocols"
$BF validate protocols/*.yaml
$BF schema --out "$OUT/protocol.schema.json" --force

for protocol in protocols/*.yaml; do
  name=$(basename "$protocol" .yaml)
  [ "$name" = programme ] && continue
  dir="$OUT/$name"
  mkdir -p "$dir"
  echo
  echo "== $name"
  $BF power "$protocol" --json "$dir/power.json"
  $BF simulate "$protocol" --out "$dir/participants.csv" --seed 1
  $BF randomise "$protocol" --participants "$dir/participants.csv" --out "$dir/list.csv"
  $BF verify "$protocol" --participants "$dir/participants.csv" --list "$dir/list.csv" | tail -1
  $BF simulate "$protocol" --list "$dir/list.csv" --participants "$dir/participants.csv" \
      --out "$dir/outcomes.csv" --seed 2
  $BF analyse "$protocol" --list "$dir/list.csv" --outcomes "$dir/outcomes.csv" \
      --participants "$dir/participants.csv" --power "$dir/power.json" \
      --json "$dir/results.json" --csv "$dir/results.csv"
  if $BF --help | grep -q "^  report "; then
    $BF report "$protocol" --results "$dir/results.json" --out "$dir/report.html"
  fi
done

echo
echo "== design diagnosis by simulation (volunteer-letters, 200 simulations)"
$BF diagnose protocols/volunteer-letters.yaml --sims 200 --no-progress --json "$OUT/volunteer-letters/diagnosis.json"

echo
echo "Outputs are in $OUT/"
