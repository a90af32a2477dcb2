#!/usr/bin/env bash
# make demo: the pipeline end to end on the shipped example protocols.
set -euo pipefail
cd "$(dirname "$0")/.."
BF=.venv/bin/bitframe
OUT=demo-output
mkdir -p "$OUT"

echo "== 1. validate the example protocols"
$BF validate protocols/*.yaml

echo
echo "== 2. JSON Schema for editors -> $OUT/protocol.schema.json"
$BF schema --out "$OUT/protocol.schema.json" --force
