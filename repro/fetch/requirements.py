"""The authors' Python dependencies (paper.yaml `requirements`), installed and isolated.

A requirement the harness's own environment already satisfies (scipy, numpy, matplotlib...)
costs nothing: the authors' code runs with the harness's interpreter. For the others, one
environment per paper and set of requirements is built once and reused, offline too:

    <home>/envs/<paper>-<hash>/      a venv (no pip of its own) whose site-packages holds
                                     the missing packages, and a .pth file that layers the
                                     harness's site-packages under them
    <home>/envs/<paper>-<hash>/repro-env.json   written last: the environment is complete
    <home>/envs/<paper>-<hash>.log   pip's output

The layer is why no second torch is ever downloaded: pip, run for the new interpreter
(`pip --python`), sees the harness's torch as installed, and a constraint pins it to that
version, so a requirement asking for another torch fails instead of pulling gigabytes. A
package in the environment shadows the harness's copy of it, for the authors' code only.
uv is faster but looks only at an environment's own site-packages, so it would not see the
layered torch; pip does.

The hash covers the requirements and the harness interpreter (its path and version): a
change of either builds a new environment. pip's usual settings apply (PIP_INDEX_URL,
PIP_FIND_LINKS, PIP_NO_INDEX for a local wheelhouse).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

from repro.errors import RequirementsError
from repro.fetch.locks import file_lock
from repro.paths import home

MARKER = "repro-env.json"


@dataclass(frozen=True)
class PaperEnvironment:
    """Where the authors' code runs: an interpreter, and the site-packages it adds."""

    folder: Path

    @property
    def python(self) -> Path:
        return self.folder / "bin" / "python"

    @property
    def site_packages(self) -> Path:
        return Path(sysconfig.get_path("purelib", vars={"base": str(self.folder), "platbase": str(self.folder)}))

    @property
    def ready(self) -> bool:
        return (self.folder / MARKER).is_file()


def missing_requirements(requirements: list[str]) -> list[str]:
    """The requirements the harness's own environment does not satisfy (name and version)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    missing = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue  # not for this platform or Python
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            missing.append(text)
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            missing.append(text)
    return missing


def environment_for(paper_id: str, requirements: list[str]) -> PaperEnvironment | None:
    """The paper's environment (built or not), or None when the harness satisfies every requirement."""
    if not missing_requirements(requirements):
        return None
    identity = json.dumps({"requirements": sorted(requirements), "python": sys.executable, "version": sys.version})
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return PaperEnvironment(home() / "envs" / f"{paper_id}-{digest}")


def ensure_environment(paper_id: str, requirements: list[str], *, show_progress: bool = True) -> PaperEnvironment | None:
    """The paper's environment, built now if it is not yet: None when none is needed."""
    env = environment_for(paper_id, requirements)
    if env is None or env.ready:
        return env
    lock = env.folder.with_name(env.folder.name + ".lock")
    with file_lock(lock, waiting_message=f"waiting for another repro process building {env.folder} ..."):
        if not env.ready:
            _build(env, requirements, show_progress)
            if show_progress:
                _mention_older_environments(paper_id, env)
    return env


def _mention_older_environments(paper_id: str, current: PaperEnvironment) -> None:
    """After a build: the paper's environments of earlier requirements are not deleted (another
    checkout of the catalog may still use them), but the user hears that they are there."""
    older = [folder for folder in current.folder.parent.glob(f"{paper_id}-*")
             if folder.is_dir() and folder != current.folder and (folder / MARKER).is_file()]
    if older:
        size = sum(f.stat().st_size for folder in older for f in folder.rglob("*") if f.is_file()) / 1e6
        print(f"note: {len(older)} environment(s) of {paper_id} for earlier requirements ({size:.0f} MB) are not "
              f"used by its manifest now; delete them if no other checkout needs them: "
              + " ".join(str(folder) for folder in older), file=sys.stderr, flush=True)


def _build(env: PaperEnvironment, requirements: list[str], show_progress: bool) -> None:
    """venv without pip, the harness's site-packages layered in, then `pip --python` installs.
    Built in place (console scripts record their path), the marker last."""
    if env.folder.exists():  # a build that was interrupted
        shutil.rmtree(env.folder)
    log_path = env.folder.with_name(env.folder.name + ".log")
    missing = missing_requirements(requirements)
    if show_progress:
        print(f"installing the authors' requirements ({', '.join(missing)}) into {env.folder} (log: {log_path})",
              file=sys.stderr, flush=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env.folder)], check=True,
                   capture_output=True)
    env.site_packages.mkdir(parents=True, exist_ok=True)
    harness = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (env.site_packages / "_repro_harness.pth").write_text("".join(f"{path}\n" for path in harness))
    constraints = env.folder / "constraints.txt"
    constraints.write_text(_torch_pin())
    command = [sys.executable, "-m", "pip", "--python", str(env.python), "install", "--disable-pip-version-check",
               "--no-input", "--constraint", str(constraints), *requirements]
    with open(log_path, "w", encoding="utf-8") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, "PIP_REQUIRE_VIRTUALENV": "0"})
    if result.returncode != 0:
        tail = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()][-4:]
        shutil.rmtree(env.folder, ignore_errors=True)
        raise RequirementsError(
            f"pip could not install the authors' requirements ({', '.join(missing)}):\n"
            + "".join(f"  {line}\n" for line in tail)
            + f"  full log: {log_path}\n"
            "  Offline? Once built, the environment is reused without a network; to build it here,\n"
            "  point pip at a wheelhouse (PIP_FIND_LINKS=DIR PIP_NO_INDEX=1) or an index (PIP_INDEX_URL)."
        )
    installed = _frozen(env)
    (env.folder / MARKER).write_text(json.dumps(
        {"requirements": requirements, "installed": installed, "harness_python": sys.executable,
         "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": round(time.monotonic() - started, 1)},
        indent=1) + "\n")


def _torch_pin() -> str:
    from importlib import metadata

    try:
        return f"torch=={metadata.version('torch')}\n"
    except metadata.PackageNotFoundError:
        return ""


def _frozen(env: PaperEnvironment) -> list[str]:
    """name==version of each package in the environment's own site-packages."""
    from importlib import metadata

    return sorted(f"{dist.metadata['Name']}=={dist.version}"
                  for dist in metadata.distributions(path=[str(env.site_packages)]))


def requirement_states(paper_id: str, requirements: list[str]) -> list[tuple[str, str]]:
    """(requirement, where it comes from) for `repro show` and `--dry-run`: the harness, the
    paper's environment, or to be installed by `repro fetch`. Runs no pip."""
    from importlib import metadata

    from packaging.requirements import Requirement

    missing = set(missing_requirements(requirements))
    env = environment_for(paper_id, requirements)
    states = []
    for text in requirements:
        if text not in missing:
            name = Requirement(text).name
            try:
                state = f"the harness has it ({name} {metadata.version(name)})"
            except metadata.PackageNotFoundError:
                state = "not needed on this platform"
        elif env is not None and env.ready:
            state = f"installed in the paper's environment {env.folder}"
        else:
            state = f"to be installed by `repro fetch {paper_id}` into {env.folder if env else '?'}"
        states.append((text, state))
    return states


# Modules whose package on the index has another name.
_PACKAGE_OF_MODULE = {"sklearn": "scikit-learn", "yaml": "pyyaml", "cv2": "opencv-python", "PIL": "pillow",
                      "skimage": "scikit-image", "bs4": "beautifulsoup4", "attr": "attrs", "Crypto": "pycryptodome"}


def missing_module_hint(error: str | None, paper_id: str) -> str | None:
    """For a run that failed on `No module named 'x'`: the one line that fixes it."""
    import re

    from repro.paths import papers_dir

    match = re.search(r"No module named '([\w.]+)'", error or "")
    if not match:
        return None
    module = match.group(1).split(".")[0]
    package = _PACKAGE_OF_MODULE.get(module, module)
    manifest = papers_dir() / paper_id / "paper.yaml"
    try:
        manifest = manifest.relative_to(Path.cwd())
    except ValueError:
        pass
    named = "" if package == module else f" (the package that provides `{module}`)"
    return (f"the authors' code imports `{module}`: add `{package}`{named} to requirements in {manifest}, "
            f"then `repro fetch {paper_id}` installs it into the paper's environment")
