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
  if $BF --help | grep -q "^  power "; then
    $BF power "$protocol" --json "$dir/power.json"
  fi
  $BF simulate "$protocol" --out "$dir/participants.csv" --seed 1
  $BF randomise "$protocol" --participants "$dir/participants.csv" --out "$dir/list.csv"
  $BF verify "$protocol" --participants "$dir/participants.csv" --list "$dir/list.csv" | tail -1
  $BF simulate "$protocol" --list "$dir/list.csv" --participants "$dir/participants.csv" \
      --out "$dir/outcomes.csv" --seed 2
  if $BF --help | grep -q "^  analyse "; then
    $BF analyse "$protocol" --list "$dir/list.csv" --outcomes "$dir/outcomes.csv" \
        --participants "$dir/participants.csv" --json "$dir/results.json" --csv "$dir/results.csv"
  fi
  if $BF --help | grep -q "^  report "; then
    $BF report "$protocol" --results "$dir/results.json" --out "$dir/report.html"
  fi
done

echo
echo "Outputs are in $OUT/"
