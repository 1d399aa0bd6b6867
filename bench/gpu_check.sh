#!/usr/bin/env bash
# GPU check for the device machine (one prepared script; see README "GPU").
# Expects the wheels of pydantic, pydantic-core, annotated-types, typing-inspection and
# mnist1d under .whl/ (the device image has torch, numpy, yaml, rich, tabulate), and $OUT.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 REPRO_HOME=/tmp/repro-home
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())"

step() { local name=$1; shift; local t0=$(date +%s%N)
  python3 -m repro "$@" --json > "$OUT/$name.json" 2> "$OUT/$name.err"; local rc=$?
  echo "$name rc=$rc wall_ms=$(( ($(date +%s%N) - t0) / 1000000 )) ($*)"; }

step quick_cuda run mnist1d --device cuda
step full_cuda  run mnist1d --profile full --device cuda --jobs 4
step auto_dev   run mnist1d --claims cnn_test_acc --device auto --set total_steps=500
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
for name in ("quick_cuda", "full_cuda", "auto_dev"):
    try:
        o = json.load(open(f"{out}/{name}.json"))
    except Exception as exc:
        print(name, "no JSON:", exc); continue
    for c in o["claims"]:
        s = c["stats"] or {}
        print(f"{name:11s} {c['claim_id']:18s} reported {c['reported']:5g} measured {s.get('mean', float('nan')):6.2f} "
              f"sd {s.get('sd') or 0:.2f} n {s.get('n')} {c['verdict']}")
    print(name, "runs:", [(r["setting"], r["seed"], r["status"], r["duration_s"]) for r in o["runs"]])
PY
first=$(python3 -c "import json; print(json.load(open('$OUT/full_cuda.json'))['runs'][0]['run_id'])" 2>/dev/null)
[ -n "$first" ] && python3 -m repro runs show "$first" | tee "$OUT/record.txt" | head -20
