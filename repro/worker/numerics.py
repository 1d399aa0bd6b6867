"""The numerics fingerprint: what decides a run's last bits, and how to emulate another machine.

The same seed and code give different last bits on another CPU type, ISA, thread count or
library build, and training amplifies them into points of accuracy (PyTorch promises no
bitwise reproducibility across platforms). So every run record and every baseline keeps a
fingerprint of what chooses the kernels and the order of floating-point operations:

- the CPU (vendor, model, family/model numbers, the ISA flags that kernels dispatch on) and
  the capability ATen dispatches to (`torch.backends.cpu.get_cpu_capability()`);
- torch, numpy, MKL and oneDNN versions, torch's thread count;
- the environment variables that change kernels (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA,
  MKL_CBWR, NPY_DISABLE_CPU_FEATURES, ...) and the OMP_*/MKL_*/KMP_* thread settings;
- on GPU: the device name and capability, CUDA and cuDNN versions, TF32 and determinism flags.

Two runs with equal fingerprints (`fingerprint_id`) are expected to agree bit for bit, so
baselines compare them exactly; otherwise a measured tolerance decides (baselines.py).

`perturbations()` lists the numerics environments this machine can apply to a worker: the
same knobs set lower than the machine's best (AVX2 kernels on an AVX-512 machine, MKL's and
oneDNN's conditional-reproducibility modes). Each one stands in for another machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from pathlib import Path

# Variables that choose kernels or code paths; recorded, and part of the fingerprint.
KERNEL_ENV_VARS = (
    "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ONEDNN_DEFAULT_FPMATH_MODE",
    "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "MKL_DEBUG_CPU_TYPE", "NPY_DISABLE_CPU_FEATURES",
    "NVIDIA_TF32_OVERRIDE", "CUBLAS_WORKSPACE_CONFIG", "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE",
)
# Thread settings of the OpenMP runtime and MKL (none of them holds a secret).
THREAD_ENV_PREFIXES = ("OMP_", "MKL_", "KMP_")


def thread_env(threads: int) -> dict[str, str]:
    """The variables that cap a process's OpenMP and MKL threads: a worker's, and the authors'
    script it runs (ctx.run_script), get the same."""
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
# The CPU flags that kernels dispatch on (the rest of /proc/cpuinfo's list does not matter here).
ISA_FLAGS = ("sse4_1", "sse4_2", "avx", "fma", "f16c", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
             "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "asimd", "sve", "sve2")


def kernel_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The kernel-choosing and thread-setting variables set in `environ` (default: this process's)."""
    environ = os.environ if environ is None else environ
    return {name: environ[name] for name in sorted(environ)
            if name in KERNEL_ENV_VARS or name.startswith(THREAD_ENV_PREFIXES)}


def cpu_info() -> dict:
    """Vendor, model name, family/model/stepping numbers and the ISA flags of this CPU."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, sep, value = line.partition(":")
            if not sep:
                if fields:
                    break  # the first processor's block is enough
                continue
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    return {
        "vendor": fields.get("vendor_id") or fields.get("CPU implementer") or platform.machine(),
        "model": fields.get("model name") or platform.processor() or platform.machine(),
        "family_model_stepping": "/".join(fields.get(k, "?") for k in ("cpu family", "model", "stepping"))
        if "cpu family" in fields else None,
        "machine": platform.machine(),
        "isa": [flag for flag in ISA_FLAGS if flag in flags],
    }


def library_versions() -> dict:
    """MKL's and oneDNN's versions as this torch build reports them (None where it has neither)."""
    import torch

    shown = torch.__config__.show()
    mkl = re.search(r"Math Kernel Library Version ([\d.]+)", shown)
    onednn = re.search(r"(?:MKL-DNN|oneDNN) v([\w.]+)", shown)
    return {"mkl": mkl.group(1) if mkl else None, "onednn": onednn.group(1) if onednn else None}


def numerics_fingerprint(device: str) -> dict:
    """Everything known to change a run's last bits, for a worker about to run on `device`
    (imports torch: call it in the worker, after its threads and environment are set)."""
    import torch

    from repro.worker.environment import package_version

    fingerprint = {
        "cpu": cpu_info(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "numpy": package_version("numpy"),
        **library_versions(),
        "torch_threads": torch.get_num_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "env": kernel_env(),
        "device": device,
        "gpu": None,
    }
    if device == "cuda" and torch.cuda.is_available():
        index = torch.cuda.current_device()
        fingerprint["gpu"] = {
            "name": torch.cuda.get_device_name(index),
            "capability": ".".join(map(str, torch.cuda.get_device_capability(index))),
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
            "tf32_cudnn": torch.backends.cudnn.allow_tf32,
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
        }
    return fingerprint


def fingerprint_id(fingerprint: dict | None) -> str | None:
    """A short hash of the fingerprint: equal ids, expect equal bits."""
    if not fingerprint:
        return None
    canonical = json.dumps(fingerprint, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def describe(fingerprint: dict | None) -> str:
    """'AMD EPYC (25/17/1), AVX512, torch 2.13.0+cpu, MKL 2024.2, oneDNN 3.12.0, 1 thread, ATEN_CPU_CAPABILITY=avx2'."""
    if not fingerprint:
        return "unknown machine (no numerics fingerprint recorded)"
    cpu = fingerprint.get("cpu") or {}
    numbers = f" ({cpu['family_model_stepping']})" if cpu.get("family_model_stepping") else ""
    parts = [f"{cpu.get('model', '?')}{numbers}", str(fingerprint.get("cpu_capability"))]
    if fingerprint.get("gpu"):
        gpu = fingerprint["gpu"]
        parts.append(f"{gpu['name']} (sm {gpu['capability']}, CUDA {gpu['cuda']}, cuDNN {gpu['cudnn']}, "
                     f"TF32 {'on' if gpu['tf32_matmul'] or gpu['tf32_cudnn'] else 'off'})")
    parts.append(f"torch {fingerprint.get('torch')}")
    parts += [f"{name} {fingerprint[key]}" for name, key in (("MKL", "mkl"), ("oneDNN", "onednn")) if fingerprint.get(key)]
    threads = fingerprint.get("torch_threads")
    parts.append(f"{threads} thread{'s' if threads != 1 else ''}")
    shown = set(KERNEL_ENV_VARS) - ({"CUBLAS_WORKSPACE_CONFIG"} if not fingerprint.get("gpu") else set())
    kernels = {k: v for k, v in (fingerprint.get("env") or {}).items() if k in shown}
    parts += [f"{k}={v}" for k, v in kernels.items()]
    return ", ".join(parts)


def differences(a: dict | None, b: dict | None) -> list[str]:
    """The fields in which two fingerprints differ ('cpu.model', 'cpu_capability', 'env.MKL_CBWR')."""
    def flat(d: dict | None, prefix: str = "") -> dict:
        out = {}
        for key, value in (d or {}).items():
            if isinstance(value, dict):
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[f"{prefix}{key}"] = value
        return out

    fa, fb = flat(a), flat(b)
    return [key for key in sorted(set(fa) | set(fb)) if fa.get(key) != fb.get(key)]


# ---------------------------------------------------------------- perturbations


def perturbations(isa: list[str] | None = None) -> dict[str, dict[str, str]]:
    """The numerics environments this machine can apply, by label, each standing in for another
    machine: ATen's kernels, MKL's code path and oneDNN's ISA capped below what the CPU has.

    On a CPU with AVX-512: AVX2 and baseline ATen kernels, MKL's AVX2 and COMPATIBLE paths,
    oneDNN capped at AVX2 and at SSE4.1, an AVX2 machine (all three at AVX2) and an oldest
    machine (all three at their lowest). On an AVX2 CPU, the lower ones. Elsewhere (not x86):
    none, and the spread over seeds must stand in.
    """
    isa = cpu_info()["isa"] if isa is None else isa
    if platform.machine() not in ("x86_64", "AMD64") or "avx2" not in isa:
        return {}
    has_avx512 = "avx512f" in isa
    found: dict[str, dict[str, str]] = {}
    if has_avx512:
        found["aten-avx2"] = {"ATEN_CPU_CAPABILITY": "avx2"}
    found["aten-default"] = {"ATEN_CPU_CAPABILITY": "default"}
    if has_avx512:
        found["mkl-avx2"] = {"MKL_CBWR": "AVX2"}
    found["mkl-compatible"] = {"MKL_CBWR": "COMPATIBLE"}
    if has_avx512:
        found["onednn-avx2"] = {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    found["onednn-sse41"] = {"ONEDNN_MAX_CPU_ISA": "SSE41"}
    if has_avx512:
        found["avx2-machine"] = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    found["oldest-machine"] = PORTABLE_ENV
    return found


# The lowest common denominator of x86-64: ATen's baseline kernels, MKL's conditional-numerical-
# reproducibility COMPATIBLE path, oneDNN's SSE4.1 kernels. It is one perturbation, not a
# portable mode: bench/numerics.py found the same bits under every knob this machine turns but
# other bits under QEMU's Haswell and Nehalem (MKL's float32 sqrt in Adam), at 1.1-2x the time.
PORTABLE_ENV = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "SSE41"}
