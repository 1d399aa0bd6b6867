"""The environment fingerprint kept in every run record.

It answers "what was different?" when two runs disagree: python, torch, CUDA, the GPU or
CPU, thread settings, repro's own version and git commit, the reference commit, and the
numerics fingerprint (numerics.py) that decides whether two runs can agree bit for bit.
Only an allow-list of environment variables is kept (Slurm's, and the kernel and thread
settings), so tokens and keys never reach a record.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import repro

RECORDED_ENV_VARS = (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "CUBLAS_WORKSPACE_CONFIG",
    # what Slurm gave the run (its job id is in the record, not here: it differs every time)
    "SLURM_JOB_PARTITION", "SLURM_CPUS_PER_TASK", "SLURM_GPUS_ON_NODE", "SLURM_MEM_PER_NODE",
)


def fingerprint(reference_commit: str | None = None, device: str = "cpu") -> dict:
    """Describe this process's environment (imports torch: call it in the worker)."""
    import torch

    from repro.worker.numerics import fingerprint_id, kernel_env, numerics_fingerprint

    numerics = numerics_fingerprint(device)

    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": platform.node(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
        "cpu": numerics["cpu"]["model"],
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "numpy": package_version("numpy"),
        "repro": repro.__version__,
        "repro_git": repro_git(),
        "reference_commit": reference_commit,
        "env": {**{name: os.environ[name] for name in RECORDED_ENV_VARS if name in os.environ}, **kernel_env()},
        "executable": sys.executable,
        "numerics": numerics,
        "numerics_id": fingerprint_id(numerics),
    }


def repro_git() -> dict | None:
    """repro's own commit and whether its tree had uncommitted changes (None outside git)."""
    source = Path(repro.__file__).resolve().parent.parent
    if not (source / ".git").exists():
        return None
    try:
        sha = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    if len(sha) != 40:  # a repository without commits answers "HEAD"
        return None
    return {"sha": sha, "dirty": bool(dirty)}


def package_version(module: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return None
