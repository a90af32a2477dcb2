#!/usr/bin/env bash
# make wheel-smoke (and CI): build the wheel, install it in a fresh virtual environment and run
# the pipeline from it in an empty folder, so nothing can come from the source tree. Catches
# files read at run time (templates, migrations) missing from the wheel, and runtime imports
# missing from the declared dependencies. Dependencies come from the package index pip is
# configured with, as for any user. One line per step; a failing step prints its output.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bitframe-wheel-smoke.XXXXXX")
cleanup() {
  local status=$?
  if [ "$status" -eq 0 ]; then rm -rf "$WORK"; else echo "wheel-smoke: outputs kept in $WORK" >&2; fi
}
trap cleanup EXIT

run() {  # run LABEL COMMAND...
  local label=$1 began=$SECONDS
  shift
  if ! "$@" >"$WORK/step.log" 2>&1; then
    echo "wheel-smoke: FAILED $label: $*" >&2
    cat "$WORK/step.log" >&2
    exit 1
  fi
  echo "wheel-smoke: ok  $label ($((SECONDS - began)) s)"
}

started=$SECONDS
# Build from a copy of the source files (tracked, or new and not ignored): setuptools reuses the
# tree's build/ folder, where modules deleted since an earlier build linger and would ship.
run "copy the source files" "$PYTHON" -c "
import pathlib, shutil, subprocess, sys
listed = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                        capture_output=True, check=True).stdout.decode()
dest = pathlib.Path(sys.argv[1])
for name in filter(None, listed.split('\0')):
    if pathlib.Path(name).is_file():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(name, dest / name)" "$WORK/src"
run "build the wheel" "$PYTHON" -m pip wheel "$WORK/src" --no-deps --quiet -w "$WORK/dist"
wheels=("$WORK"/dist/bitframe-*.whl)
run "fresh virtual environment" "$PYTHON" -m venv "$WORK/venv"
run "install ${wheels[0]##*/} and its dependencies" "$WORK/venv/bin/python" -m pip install --quiet --no-compile "${wheels[0]}"

# From here on only the installed wheel is importable: an empty folder, no PYTHONPATH.
unset PYTHONPATH
mkdir "$WORK/run"
cd "$WORK/run"
PY="$WORK/venv/bin/python"
BF="$WORK/venv/bin/bitframe"
run "the installed package holds exactly src/bitframe's files" "$PY" -c "
import pathlib, sys, bitframe
installed = pathlib.Path(bitframe.__file__).parent
if not installed.is_relative_to('$WORK/venv'):
    sys.exit(f'bitframe imported from {installed}, not from the wheel')
def files(root):
    return {p.relative_to(root).as_posix() for p in root.rglob('*') if p.is_file() and '__pycache__' not in p.parts}
extra, missing = files(installed) - files(pathlib.Path(sys.argv[1])), files(pathlib.Path(sys.argv[1])) - files(installed)
if extra or missing:
    sys.exit(f'not in the source: {sorted(extra)}; not in the wheel: {sorted(missing)}')" "$WORK/src/src/bitframe"
run "bitframe --version" "$BF" --version
run "the templates ship in the package" "$PY" -c "
from bitframe.resources import jinja_environment
env = jinja_environment()
names = env.list_templates()
assert 'protocol.yaml.j2' in names and 'report/report.css' in names and 'service/login.html.j2' in names, names
for name in names:
    env.loader.get_source(env, name)"
run "init" "$BF" init trial.yaml --id wheel-smoke --title "Wheel smoke test" --site "Anywhere" \
  --area helping_health_care --scheme block --outcome-type binary --no-input
run "an unedited scaffold fails validation" "$PY" -c "
import subprocess, sys
done = subprocess.run([sys.argv[1], 'validate', 'trial.yaml'], capture_output=True, text=True)
assert done.returncode == 1 and 'BF116' in done.stderr, done.stderr" "$BF"
# What an author does to a scaffold: each "replace: ..." becomes its example, or some text.
run "fill the placeholders" "$PY" -c "
import json, pathlib, re
path = pathlib.Path('trial.yaml')
text = re.sub(r'\"replace: [^\"]*e\.g\. ([^\"]+)\"', r'\1', path.read_text())
path.write_text(re.sub(r'\"replace: ([^\"]*)\"', lambda m: json.dumps(m.group(1).capitalize()), text))"
run "validate" "$BF" validate trial.yaml
run "power (JSON and SVG plot)" "$BF" power trial.yaml --json power.json --plot power.svg
run "simulate participants" "$BF" simulate trial.yaml --out participants.csv --seed 1
run "randomise" "$BF" randomise trial.yaml --participants participants.csv --out list.csv
run "verify" "$BF" verify trial.yaml --participants participants.csv --list list.csv
run "simulate outcomes" "$BF" simulate trial.yaml --list list.csv --participants participants.csv \
  --out outcomes.csv --seed 2
run "analyse" "$BF" analyse trial.yaml --list list.csv --outcomes outcomes.csv --participants participants.csv \
  --power power.json --json results.json
run "report (HTML)" "$BF" report trial.yaml --results results.json --out report.html
run "serve --init-only (database and migrations)" "$BF" serve trial.yaml --data-dir service --init-only
echo "wheel-smoke: passed in $((SECONDS - started)) s"
