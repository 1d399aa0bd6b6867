"""Where repro keeps things, and every REPRO_* environment variable, read in this one place.

    REPRO_HOME       records and caches (default $XDG_CACHE_HOME/repro, else ~/.cache/repro):
                       runs/<run_id>/   one folder per run (records.py)
                       cache/<paper>/   shared by a paper's runs (ctx.cache_dir)
                       git/             the authors' repositories and checkouts (fetch/repository.py)
                       data/            data files by sha256 (fetch/artifacts.py)
                       slurm/<batch>/   submitit's files (execute/slurm.py)
    REPRO_PAPERS     the catalog folder (default papers/ beside the package)
    REPRO_BASELINES  the stored baselines (default baselines/ beside the package)
    REPRO_DATA_DIR   a folder of pre-seeded data files, found by size and sha256
    REPRO_CONFIG     a settings file, instead of the nearest repro.toml (settings.py)
    REPRO_ARXIV_API  the arXiv API `repro new` asks (default export.arxiv.org)

Each is read when it is asked for, not at import, so a test or a caller can set it first.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parent.parent  # the checkout: papers/ and baselines/ live here


def _folder(variable: str) -> Path | None:
    value = os.environ.get(variable)
    return Path(value).expanduser().resolve() if value else None


def home() -> Path:
    """The root of repro's caches and records: $REPRO_HOME, else ~/.cache/repro."""
    override = _folder("REPRO_HOME")
    if override:
        return override
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "repro"


# What a disk says when repro cannot write under REPRO_HOME, and what to tell the user.
DISK_PROBLEMS = {
    errno.ENOTDIR: "is a file, not a folder (or a folder above it is)",
    errno.EEXIST: "is a file, not a folder",
    errno.EROFS: "is on a read-only file system",
    errno.EACCES: "is not writable by this user",
    errno.EPERM: "is not writable by this user",
    errno.ENOSPC: "is on a full disk",
    errno.EDQUOT: "is over its disk quota",
}


def home_problem(exc: OSError) -> str | None:
    """The one line to print for an OSError from writing under REPRO_HOME, or None if it is
    not a disk problem there (a bug, or another path: let it be)."""
    reason = DISK_PROBLEMS.get(exc.errno)
    if reason is None:
        return None
    where = str(exc.filename or "")
    root = home()
    if where and not Path(where).resolve().is_relative_to(root) and not root.is_relative_to(Path(where).resolve()):
        return f"cannot write {where}: {exc.strerror}"  # somewhere else (an output folder): say where, not REPRO_HOME
    return (f"REPRO_HOME={root} {reason}" + (f" ({exc.strerror}: {where})" if where else f" ({exc.strerror})")
            + ". Point REPRO_HOME at a writable folder with free space (default ~/.cache/repro), or free some.")


def usable_home() -> Path:
    """home(), made if need be and checked writable by writing a small file; raises
    HomeUnusable (exit 2) with the reason and what to do."""
    from repro.errors import HomeUnusable

    root = home()
    probe = root / f".write-test-{os.getpid()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"repro")
        probe.unlink()
    except OSError as exc:
        raise HomeUnusable(home_problem(exc) or f"REPRO_HOME={root}: {exc}") from None
    return root


def runs_dir() -> Path:
    return home() / "runs"


def paper_cache_dir(paper_id: str) -> Path:
    """What every run of one paper shares (generated data): ctx.cache_dir."""
    return home() / "cache" / paper_id


def papers_dir() -> Path:
    """Where the catalog lives: $REPRO_PAPERS, else the papers/ folder beside the package."""
    return _folder("REPRO_PAPERS") or SOURCE_ROOT / "papers"


def baselines_dir() -> Path:
    """$REPRO_BASELINES, else the baselines/ folder beside the package."""
    return _folder("REPRO_BASELINES") or SOURCE_ROOT / "baselines"


def seeded_data_dir() -> Path | None:
    """$REPRO_DATA_DIR: a folder of data files to use instead of downloading, if set."""
    value = os.environ.get("REPRO_DATA_DIR")
    return Path(value).expanduser() if value else None


def settings_file_override() -> str | None:
    """$REPRO_CONFIG as given (settings.py says when it names no file)."""
    return os.environ.get("REPRO_CONFIG") or None


def arxiv_api_override() -> str | None:
    """$REPRO_ARXIV_API: another arXiv API to ask (a test's local server), if set."""
    return os.environ.get("REPRO_ARXIV_API") or None
