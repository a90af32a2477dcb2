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

# a protocol with a non-randomised `design:` has no list to draw: see the section after the loop
randomised() { ! grep -q '^design:' "$1"; }

for protocol in protocols/*.yaml; do
  name=$(basename "$protocol" .yaml)
  [ "$name" = programme ] && continue
  randomised "$protocol" || continue
  dir="$OUT/$name"
  mkdir -p "$dir"
  echo
  echo "== $name"
  $BF power "$protocol" --json "$dir/power.json"
  $BF register "$protocol" --out "$dir/registration" --pdf --usdm
  $BF simulate "$protocol" --out "$dir/participants.csv" --seed 1
  $BF randomise "$protocol" --participants "$dir/participants.csv" --out "$dir/list.csv"
  $BF verify "$protocol" --participants "$dir/participants.csv" --list "$dir/list.csv" | tail -1
  $BF simulate "$protocol" --list "$dir/list.csv" --participants "$dir/participants.csv" \
      --out "$dir/outcomes.csv" --seed 2
  # compared with the registration pack written above: any change since registration is listed
  $BF analyse "$protocol" --list "$dir/list.csv" --outcomes "$dir/outcomes.csv" \
      --participants "$dir/participants.csv" --power "$dir/power.json" \
      --registered "$dir/registration" --json "$dir/results.json" --csv "$dir/results.csv"
  # the Word copy needs python-docx, which `make` installs with the test extra
  $BF report "$protocol" --results "$dir/results.json" --out "$dir/report.html" --pdf \
      --docx "$dir/report.docx"
done

echo
echo "== community connectors: a staggered roll-out without randomisation (issue 19)"
# simulated monthly routine data of 8 neighbourhoods and a pre/post SWEMWBS survey (seeded)
dir="$OUT/community-connectors"
mkdir -p "$dir"
.venv/bin/python scripts/community_connectors_data.py "$dir" --seed 19
$BF power protocols/community-connectors.yaml --json "$dir/power.json"
# non-randomised designs are pre-registered too (OSF Preregistration; AEA takes RCTs only: see todo.md)
$BF register protocols/community-connectors.yaml --out "$dir/registration" --pdf --usdm
$BF register protocols/community-connectors-survey.yaml --out "$dir/survey-registration" --pdf --usdm
$BF analyse protocols/community-connectors.yaml --outcomes "$dir/community-connectors-panel.csv" \
    --registered "$dir/registration" --json "$dir/results.json" --csv "$dir/results.csv"
$BF report protocols/community-connectors.yaml --results "$dir/results.json" --out "$dir/report.html" --pdf \
    --docx "$dir/report.docx"
$BF analyse protocols/community-connectors-survey.yaml --outcomes "$dir/community-connectors-survey.csv" \
    --registered "$dir/survey-registration" --json "$dir/survey-results.json" --csv "$dir/survey-results.csv"
$BF report protocols/community-connectors-survey.yaml --results "$dir/survey-results.json" \
    --out "$dir/survey-report.html" --pdf --docx "$dir/survey-report.docx"

echo
echo "== programme report across the sites"
# The example programme (protocols/programme.yaml) with each protocol site's analysis results added.
sed -e 's|^    - protocol: \(.*\)\.yaml$|    - protocol: ../protocols/\1.yaml\n      results: \1/results.json|' \
  -e 's|^  title: \(.*\)$|  title: \1 (demo data)|' protocols/programme.yaml > "$OUT/programme.yaml"
$BF report "$OUT/programme.yaml" --out "$OUT/programme-report.html" --pdf \
  --json "$OUT/programme-results.json" --csv "$OUT/programme-results.csv"

echo
echo "== design diagnosis by simulation (volunteer-letters, 200 simulations)"
$BF diagnose protocols/volunteer-letters.yaml --sims 200 --no-progress --json "$OUT/volunteer-letters/diagnosis.json"

echo
echo "Registration packs (protocol and analysis plan as HTML, PDF and Word; WHO data set, ISRCTN text,"
echo "AEA RCT Registry and OSF Preregistration drafts; CDISC USDM; to-do list; the registered protocol):"
for d in "$OUT"/*/registration "$OUT"/community-connectors/survey-registration; do echo "  $d/"; done
echo "Reports:"
for f in "$OUT"/*/report.html "$OUT"/community-connectors/survey-report.html; do
  echo "  $f (and ${f%.html}.pdf, ${f%.html}.docx)"
done
echo "  $OUT/programme-report.html (and $OUT/programme-report.pdf; the synthesis in $OUT/programme-results.json and .csv)"
echo "All outputs are in $OUT/"
