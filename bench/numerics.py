"""Portable bitwise numerics: does PORTABLE_ENV give the same bits whatever else the machine does?

`repro.numerics.PORTABLE_ENV` (ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE
ONEDNN_MAX_CPU_ISA=SSE41) asks ATen, MKL and oneDNN for their lowest-common-denominator code
paths. If that pins every bit, baselines could be compared exactly across CPU types. This
script runs mnist1d's quick profile (seed 0, 1 thread per run) and compares, bit for bit, each
run's final metrics and its whole logged curve (train_loss and test_acc every 250 steps: the
float32 loss values catch a last-bit difference that an accuracy out of 1000 would hide).
Prints three tables.

1. Native (no variables) against PORTABLE_ENV, through `repro.run.reproduce` (forked workers),
   each `--repeats` times, interleaved (native, portable, native, ...) so that a load on the
   machine hits both alike: metrics, bit-identical or not, train seconds, portable/native.
2. Further perturbations on top of PORTABLE_ENV (and a few on the native environment), each
   in a fresh interpreter (`python -m repro.worker RUN_DIR`) with a fresh REPRO_HOME, so the
   MNIST-1D data are generated again under the same variables: numpy's SIMD dispatch
   (NPY_DISABLE_CPU_FEATURES; a forked worker cannot change it, the forkserver has numpy
   imported), MKL_ENABLE_INSTRUCTIONS, MKL_DEBUG_CPU_TYPE, ONEDNN_DEFAULT_FPMATH_MODE, and the
   fresh interpreter itself against table 1's forked workers. Each against its unperturbed
   reference, plus a hash of the generated data.
3. Another CPU: the fresh-interpreter worker under QEMU user-mode emulation
   (`qemu-x86_64 -cpu Haswell-v4`: AVX2 without AVX-512; `-cpu Nehalem`: SSE4.2 only), where
   CPUID differs and ATen, MKL, oneDNN and numpy all choose their code paths for that CPU:
   PORTABLE_ENV under each emulated CPU and the native environment under the first, against
   the same on the host; then a few single operations under PORTABLE_ENV on the host and under
   QEMU (and, where a C compiler is found, SSE's approximate rsqrtps/rcpps), to show which one
   differs. Needs `apt-get install qemu-user`; 30-80x slower than native (a cnn run ~9 min),
   so GRU is left out there.

    .venv/bin/python bench/numerics.py [--models logistic,mlp,cnn,gru] [--repeats 2]
        [--skip-native] [--skip-perturbations] [--skip-qemu] [--qemu-cpus Haswell-v4,Nehalem]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
ALL_MODELS = ("logistic", "mlp", "cnn", "gru")
# numpy 2.x dispatch targets above its X86_V2 baseline (numpy.show_runtime()); disabling the
# AVX-512 ones makes numpy pick what an AVX2 machine would, all of them what an SSE4.2 one would.
NPY_AVX2_MACHINE = "X86_V4 AVX512_ICL AVX512_SPR"
NPY_BASELINE = "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"
# Perturbations applied on top of PORTABLE_ENV (none of them sets one of its three variables).
ON_TOP = {
    "fresh interpreter": {},
    "numpy as AVX2 machine": {"NPY_DISABLE_CPU_FEATURES": NPY_AVX2_MACHINE},
    "numpy baseline (x86-64-v2)": {"NPY_DISABLE_CPU_FEATURES": NPY_BASELINE},
    "MKL_ENABLE_INSTRUCTIONS=AVX2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "MKL_ENABLE_INSTRUCTIONS=SSE4_2": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    "MKL_DEBUG_CPU_TYPE=5": {"MKL_DEBUG_CPU_TYPE": "5"},
    "ONEDNN_DEFAULT_FPMATH_MODE=STRICT": {"ONEDNN_DEFAULT_FPMATH_MODE": "STRICT"},
    "all of the above": {"NPY_DISABLE_CPU_FEATURES": NPY_BASELINE, "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
                         "MKL_DEBUG_CPU_TYPE": "5", "ONEDNN_DEFAULT_FPMATH_MODE": "STRICT"},
}
ON_NATIVE = {
    "fresh interpreter": {},
    "numpy as AVX2 machine": {"NPY_DISABLE_CPU_FEATURES": NPY_AVX2_MACHINE},
    "numpy baseline (x86-64-v2)": {"NPY_DISABLE_CPU_FEATURES": NPY_BASELINE},
}


def signature(metrics: dict, curves: dict) -> str:
    """A hash of everything a run reports: equal hashes, equal bits (JSON floats round-trip)."""
    canonical = json.dumps({"metrics": metrics, "curves": curves}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]


def data_hash(home: Path) -> str:
    """Hashes of the MNIST-1D arrays generated (and cached) under this REPRO_HOME: as stored
    (float64) / as the model sees them (x and x_test cast to float32, as reimpl.py does)."""
    import numpy as np

    path = home / "cache" / "mnist1d" / "mnist1d-default.npz"
    if not path.exists():
        return "-"
    stored, seen = hashlib.sha256(), hashlib.sha256()
    with np.load(path) as f:
        for key in ("x", "y", "x_test", "y_test"):
            stored.update(np.ascontiguousarray(f[key]).tobytes())
            seen.update(np.ascontiguousarray(f[key].astype(np.float32) if key.startswith("x") else f[key]).tobytes())
    return f"{stored.hexdigest()[:8]}/{seen.hexdigest()[:8]}"


GENERATE = """import sys
from pathlib import Path
from repro.worker.imports import import_file
cache = Path(sys.argv[2]) / "cache" / "mnist1d"
cache.mkdir(parents=True, exist_ok=True)
import_file(Path(sys.argv[1]), "reimpl_data").load_data(cache)
"""


def generate_data(spec, home: Path, process_env: dict | None = None, prefix: list[str] = (),
                  timeout_s: float = 900) -> float:
    """Generate (and cache) the data under `home` before any timed run, with reimpl.py's own
    load_data, in a fresh interpreter with process_env (None: in this process). Seconds taken."""
    started = time.perf_counter()
    if process_env is None:
        from repro.worker.imports import import_file

        cache = home / "cache" / "mnist1d"
        cache.mkdir(parents=True, exist_ok=True)
        import_file(Path(spec.impl_path), "reimpl_data").load_data(cache)
    else:
        subprocess.run([*prefix, sys.executable, "-c", GENERATE, spec.impl_path, str(home)], env=process_env,
                       cwd=ROOT, check=True, capture_output=True, timeout=timeout_s)
    return time.perf_counter() - started


def plan(models: list[str]) -> list:
    from repro.catalog import load_paper
    from repro.run import plan_and_fetch

    return plan_and_fetch(load_paper("mnist1d"), impl="reimpl", profile="quick", seeds=[0], device="cpu",
                          threads=1, claim_ids=[f"{m}_test_acc" for m in models])


def model_of(spec: dict | object) -> str:
    setting = spec["setting"] if isinstance(spec, dict) else spec.setting
    return setting["model"]


# ------------------------------------------------------------ 1. native against portable


def reproduced(models: list[str], env: dict[str, str]) -> dict[str, dict]:
    """{model: run} from one `reproduce` of the quick profile, one run at a time."""
    from repro.run import reproduce

    outcome = reproduce("mnist1d", impl="reimpl", profile="quick", seeds=[0], device="cpu", jobs=1, threads=1,
                        claim_ids=[f"{m}_test_acc" for m in models], env=env)
    runs = {}
    for r in outcome.records:
        if r["status"] != "ok":
            sys.exit(f"{r['run_id']} {r['status']}: {r.get('error')}\n{r.get('log_tail', '')}")
        runs[model_of(r["spec"])] = {
            "metrics": r["metrics"], "sig": signature(r["metrics"], r["curves"]), "train_s": r["train_s"],
            "capability": r["environment"]["numerics"]["cpu_capability"],
        }
    return runs


def native_against_portable(specs: list, repeats: int) -> dict[str, dict]:
    from repro.worker.numerics import PORTABLE_ENV

    models = [model_of(s) for s in specs]
    generate_data(specs[0], Path(os.environ["REPRO_HOME"]))  # not inside the first timed run
    configs = {"native": {}, "portable": dict(PORTABLE_ENV)}
    results: dict[str, list[dict]] = {name: [] for name in configs}
    for _ in range(repeats):
        for name, env in configs.items():  # interleaved: a load on the machine hits both alike
            results[name].append(reproduced(models, env))

    rows = []
    for model in models:
        row = [model]
        for name in configs:
            sigs = {runs[model]["sig"] for runs in results[name]}
            first = results[name][0][model]
            row += [f"{first['metrics']['test_acc']:.1f} / {first['metrics']['train_acc']:.2f}",
                    first["capability"], first["sig"] if len(sigs) == 1 else "REPEATS DIFFER"]
        same = results["native"][0][model]["sig"] == results["portable"][0][model]["sig"]
        times = {name: [runs[model]["train_s"] for runs in results[name]] for name in configs}
        row += ["yes" if same else "no",
                " ".join(f"{t:.2f}" for t in times["native"]), " ".join(f"{t:.2f}" for t in times["portable"]),
                f"{min(times['portable']) / min(times['native']):.2f}x",
                f"{statistics.median(times['portable']) / statistics.median(times['native']):.2f}x"]
        rows.append(row)
    print(tabulate(rows, headers=["model", "native test/train acc", "native ATen", "native bits",
                                  "portable test/train acc", "portable ATen", "portable bits", "same bits",
                                  "native train s", "portable train s", "portable/native fastest",
                                  "median"]))
    print(f"({repeats} interleaved repeats of each, forked workers, 1 thread, one run at a time; "
          f"'bits' hashes the metrics and the whole logged curve)")
    return {name: runs[0] for name, runs in results.items()}


# ----------------------------------------------------------------- fresh interpreters


def fresh_config(specs: list, env: dict[str, str], prefix: list[str] = (), timeout_s: float = 900) -> dict:
    """Every spec in a fresh interpreter (`python -m repro.worker`), one after the other, in one
    fresh REPRO_HOME, the data generated first under the same `env` (with `prefix`, e.g. qemu):
    {model: run, "data": hash, "data_s": seconds}."""
    from repro.worker.numerics import KERNEL_ENV_VARS, THREAD_ENV_PREFIXES
    from repro.records import curves_from_events, read_events, read_json, write_json_atomic

    base = {k: v for k, v in os.environ.items() if k not in KERNEL_ENV_VARS and not k.startswith(THREAD_ENV_PREFIXES)}
    home = Path(tempfile.mkdtemp(prefix="repro-numerics-"))
    process_env = {**base, "REPRO_HOME": str(home), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   "PYTHONUNBUFFERED": "1", **env}
    out: dict = {"data_s": None}
    try:
        try:
            out["data_s"] = generate_data(specs[0], home, process_env, prefix, timeout_s)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            tail = (getattr(exc, "stderr", b"") or b"")[-1500:].decode(errors="replace")
            print(f"  data generation {env or 'native'} {' '.join(prefix)} failed: {exc}\n{tail}", file=sys.stderr)
        for spec in specs:
            model = model_of(spec)
            run_dir = home / "runs" / model
            write_json_atomic(run_dir / "spec.json", replace(spec, env=dict(env)).to_dict())
            started = time.perf_counter()
            try:
                done = subprocess.run([*prefix, sys.executable, "-m", "repro.worker", str(run_dir)], env=process_env,
                                      cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
                code = done.returncode
                tail = (done.stdout + done.stderr)[-1500:]
            except subprocess.TimeoutExpired:
                code, tail = "timeout", ""
            wall = time.perf_counter() - started
            result = read_json(run_dir / "result.json")
            environment = read_json(run_dir / "environment.json") or {}
            capability = (environment.get("numerics") or {}).get("cpu_capability", "?")
            if result is None:
                out[model] = {"error": f"exit {code} after {wall:.0f} s: {tail.strip().splitlines()[-1:] or ''}",
                              "capability": capability, "sig": None}
                print(f"  {model} {env or 'native'} {' '.join(prefix)} failed ({code}):\n{tail}", file=sys.stderr)
                continue
            curves = curves_from_events(read_events(run_dir / "events.jsonl"))
            out[model] = {"metrics": result["metrics"], "sig": signature(result["metrics"], curves),
                          "train_s": result["train_seconds"], "wall_s": wall, "capability": capability}
        out["data"] = data_hash(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return out


def verdict(run: dict, reference: dict) -> str:
    if run.get("sig") is None:
        return f"FAILED ({run.get('error')})"
    if run["sig"] == reference.get("sig"):
        return "same"
    m, r = run["metrics"], reference.get("metrics", {})
    return f"DIFF ({m['test_acc']:.1f} vs {r.get('test_acc', float('nan')):.1f})"


# -------------------------------------------------------------- 2. further perturbations


def perturbations(specs: list, forked: dict[str, dict] | None, jobs: int) -> dict[str, dict]:
    from repro.worker.numerics import PORTABLE_ENV

    models = [model_of(s) for s in specs]
    configs = [("portable", label, {**PORTABLE_ENV, **extra}) for label, extra in ON_TOP.items()]
    configs += [("native", label, extra) for label, extra in ON_NATIVE.items()]
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(lambda c: fresh_config(specs, c[2]), configs))
    reference = {base: results[i] for i, (base, label, _) in enumerate(configs) if label == "fresh interpreter"}

    rows = []
    for (base, label, env), result in zip(configs, results):
        against = forked[base] if label == "fresh interpreter" and forked else reference[base]
        against_name = "forked worker" if label == "fresh interpreter" and forked else "fresh, unperturbed"
        caps = sorted({result[m]["capability"] for m in models})
        rows.append([f"{base} + {label}", "/".join(caps), result["data"], against_name,
                     *[verdict(result[m], against[m]) for m in models]])
    print()
    print(tabulate(rows, headers=["configuration", "ATen", "data hash f64/f32", "against", *models]))
    for label, extra in ON_TOP.items():
        if extra:
            print(f"  {label}: {' '.join(f'{k}={v}' for k, v in extra.items())}")
    print(f"(fresh interpreters, a fresh REPRO_HOME each, so the data are generated under the same variables; "
          f"{jobs} configurations at once)")
    return reference


# ------------------------------------------------------------------------ 3. under QEMU


def under_qemu(specs: list, host: dict[str, dict] | None, cpus: list[str], jobs: int, timeout_s: float) -> None:
    from repro.worker.numerics import PORTABLE_ENV

    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        print("\nQEMU part skipped: no qemu-x86_64 (apt-get install qemu-user)")
        return
    specs = [s for s in specs if model_of(s) != "gru"]
    models = [model_of(s) for s in specs]
    if not specs:
        print("\nQEMU part skipped: GRU only (too slow under emulation)")
        return
    if host is None:  # table 2 skipped: the host references, fresh interpreters
        host = {"native": fresh_config(specs, {}), "portable": fresh_config(specs, dict(PORTABLE_ENV))}
    # PORTABLE_ENV under every emulated CPU; the native environment under the first only
    configs = [(cpus[0], "native", {})] + [(cpu, "portable", dict(PORTABLE_ENV)) for cpu in cpus]
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(
            lambda c: fresh_config(specs, c[2], prefix=[qemu, "-cpu", c[0]], timeout_s=timeout_s), configs))

    def seconds(value):
        return f"{value:.0f}" if value is not None else "failed"

    def caps(result):
        return "/".join(sorted({result[m]["capability"] for m in models}))

    rows = []
    for base in ("native", "portable"):
        runs = host[base]
        rows.append([f"host ({base})", caps(runs), runs["data"], seconds(runs["data_s"]), "-",
                     *[f"{runs[m]['metrics']['test_acc']:.1f}, {runs[m]['sig']}, {runs[m]['train_s']:.1f} s"
                       for m in models]])
    for (cpu, base, _), result in zip(configs, results):
        cells = [verdict(result[m], host[base][m])
                 + (f", {result[m]['sig']}, {result[m]['train_s']:.0f} s" if result[m].get("sig") else "")
                 for m in models]
        rows.append([f"qemu -cpu {cpu} ({base})", caps(result), result["data"], seconds(result["data_s"]),
                     f"host {base}", *cells])
    print()
    print(tabulate(rows, headers=["configuration", "ATen", "data hash f64/f32", "data gen s", "against",
                                  *models]))
    print(f"(fresh interpreters, the data generated under the emulated CPU first; {jobs} configurations at once; "
          f"cells: verdict, bits hash, train time inside run())")
    ops_under_qemu(qemu, cpus)


# ------------------------------------------------- 3b. which operations differ under QEMU

OPS_PROBE = """import hashlib, json, math
import numpy as np, torch, torch.nn.functional as F
torch.set_num_threads(1)
def h(t):
    return hashlib.sha256(t.detach().contiguous().numpy().tobytes()).hexdigest()[:8]
def exact(n, m, k=17):  # inputs that every CPU computes alike
    return ((torch.arange(n * m, dtype=torch.float32) * 7 % k - k // 2) / 7).reshape(n, m)
out = {}
torch.manual_seed(0)
v = torch.empty(100000).uniform_(1e-9, 1e-5)  # like Adam's second moments
correct = np.sqrt(v.numpy().astype(np.float64)).astype(np.float32)
wrong = int((v.sqrt().numpy() != correct).sum())
out["torch.sqrt (Adam's denominator)"] = f"{h(v.sqrt())}, {wrong} not correctly rounded"
a, b = exact(100, 40), exact(40, 100, 13)
out["matmul 100x40x100"] = h(a @ b)
out["exp"] = h(torch.exp(a))
out["log_softmax"] = h(F.log_softmax(a, dim=-1))
x, w = exact(100, 40).reshape(100, 1, 40), exact(25, 5, 19).reshape(25, 1, 5)
out["conv1d"] = h(F.conv1d(x, w, padding=2))
g, p = torch.empty(410).uniform_(-0.05, 0.05), torch.empty(410).uniform_(-0.15, 0.15).requires_grad_()
opt = torch.optim.Adam([p], lr=0.01)
p.grad = g
opt.step()
out["one Adam step"] = h(p)
print(json.dumps(out))
"""

APPROXIMATE_C = r"""#include <immintrin.h>
#include <stdio.h>
#include <string.h>
int main(void) {  /* FNV hashes of 10^6 results of SSE's approximate and exact instructions */
    unsigned long long h[3] = {1469598103934665603ULL, 1469598103934665603ULL, 1469598103934665603ULL};
    for (unsigned i = 0; i < 1000000; i++) {
        __m128 v = _mm_set1_ps(1e-6f + i * 3.1e-6f);
        float r[3] = {_mm_cvtss_f32(_mm_rsqrt_ps(v)), _mm_cvtss_f32(_mm_rcp_ps(v)), _mm_cvtss_f32(_mm_sqrt_ps(v))};
        for (int k = 0; k < 3; k++) { unsigned u; memcpy(&u, &r[k], 4); h[k] = (h[k] ^ u) * 1099511628211ULL; }
    }
    printf("%016llx %016llx %016llx\n", h[0], h[1], h[2]);
    return 0;
}
"""


def ops_under_qemu(qemu: str, cpus: list[str]) -> None:
    """The same few operations under PORTABLE_ENV on the host and under each emulated CPU; and,
    where a C compiler is here, SSE's rsqrtps/rcpps (approximations whose bits each CPU design
    defines for itself) and sqrtps (exact) on the host and under QEMU."""
    from repro.worker.numerics import PORTABLE_ENV

    env = {**os.environ, **PORTABLE_ENV, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    prefixes = {"host": [], **{f"qemu {cpu}": [qemu, "-cpu", cpu] for cpu in cpus}}

    def probe(prefix):
        done = subprocess.run([*prefix, sys.executable, "-c", OPS_PROBE], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=600)
        return json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-300:]}

    with ThreadPoolExecutor(2) as pool:
        results = dict(zip(prefixes, pool.map(probe, prefixes.values())))
    host = results["host"]
    rows = [[op, host.get(op), *[("same" if r.get(op) == host.get(op) else f"DIFF {r.get(op)}")
                                  for name, r in results.items() if name != "host"]] for op in host]
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler:
        with tempfile.TemporaryDirectory() as folder:
            source, binary = Path(folder, "approx.c"), Path(folder, "approx")
            source.write_text(APPROXIMATE_C)
            subprocess.run([compiler, "-O1", "-msse2", "-o", str(binary), str(source)], check=True)
            hashes = {name: subprocess.run([*prefix, str(binary)], capture_output=True, text=True).stdout.split()
                      for name, prefix in prefixes.items()}
        for k, op in enumerate(("SSE rsqrtps (approximate)", "SSE rcpps (approximate)", "SSE sqrtps (exact)")):
            rows.append([op, hashes["host"][k], *[("same" if h[k] == hashes["host"][k] else f"DIFF {h[k]}")
                                                   for name, h in hashes.items() if name != "host"]])
    print()
    print(tabulate(rows, headers=["operation (PORTABLE_ENV, 1 thread)", "host",
                                  *[name for name in results if name != "host"]]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(ALL_MODELS), help="comma-separated (default: all four)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each configuration in table 1")
    parser.add_argument("--jobs", type=int, default=2, help="configurations at once in tables 2 and 3")
    parser.add_argument("--qemu-cpus", default="Haswell-v4,Nehalem", help="qemu-x86_64 -cpu models")
    parser.add_argument("--qemu-timeout", type=float, default=900, help="seconds per run under QEMU")
    parser.add_argument("--skip-native", action="store_true", help="skip table 1 (native against portable)")
    parser.add_argument("--skip-perturbations", action="store_true", help="skip table 2")
    parser.add_argument("--skip-qemu", action="store_true", help="skip table 3")
    args = parser.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if unknown := set(models) - set(ALL_MODELS):
        sys.exit(f"--models: unknown {', '.join(sorted(unknown))} (choose from {', '.join(ALL_MODELS)})")

    home = tempfile.mkdtemp(prefix="repro-numerics-home-")
    os.environ["REPRO_HOME"] = home  # before the forkserver starts: records and cache stay out of ~/.cache
    try:
        specs = plan(models)
        forked = None if args.skip_native else native_against_portable(specs, args.repeats)
        host = None if args.skip_perturbations else perturbations(specs, forked, args.jobs)
        if not args.skip_qemu:
            under_qemu(specs, host, [c for c in args.qemu_cpus.split(",") if c], args.jobs, args.qemu_timeout)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
