"""The authors' requirements (paper.yaml `requirements`): a per-paper environment, offline.

The "authors" need a package the harness does not have, `reprotoypkg`, which the test builds
as a wheel by hand (a zip with its metadata) into a local wheelhouse; pip is pointed at it with
PIP_NO_INDEX and PIP_FIND_LINKS, so nothing is downloaded. The authors' repository is a git
repository reached through an insteadOf rewrite, as in test_adapters.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import textwrap
import zipfile
from pathlib import Path

import pytest

from conftest import commit_files, reach_through_insteadof, run_repro

URL = "https://example.org/authors/needs-a-package"

TRAIN_SCRIPT = """\
import reprotoypkg
print(f"score {reprotoypkg.VALUE}")
"""

ADAPTER = '''\
import sys

from repro.worker import NUMBER


def run(cfg, ctx):
    if cfg["style"] == "import":
        import reprotoypkg  # from the paper's environment, in the worker itself
        return {"score": float(reprotoypkg.VALUE)}
    metrics = ctx.run_script([ctx.python, str(ctx.source_dir / "train.py")], cwd=ctx.work_dir,
                             patterns=[rf"score (?P<score>{NUMBER})"])
    return {"score": metrics["score"]}
'''


def make_wheel(folder: Path, name: str, version: str, source: str) -> Path:
    """A pure-python wheel of one module, `name`, written by hand (no build backend, no network)."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": source,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: repro-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
    return wheel


@pytest.fixture
def needy(tmp_path, monkeypatch, repro_home):
    """A paper whose authors' code imports reprotoypkg, and a wheelhouse that has it."""
    authors = tmp_path / "authors"
    commit = commit_files(authors, {"train.py": TRAIN_SCRIPT})
    reach_through_insteadof(monkeypatch, tmp_path / "gitconfig", authors, URL)

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "reprotoypkg", "1.0", "VALUE = 42\n")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))

    paper = tmp_path / "papers" / "needy"
    paper.mkdir(parents=True)
    (paper / "reference.py").write_text(ADAPTER)
    manifest = textwrap.dedent(f"""\
        id: needy
        title: A paper whose code needs a package
        authors: [A. Author]
        year: 2024
        venue: Tests
        reference: {{repo: "{URL}", commit: {commit}}}
        requirements: [reprotoypkg==1.0, scipy]
        config: {{style: script}}
        profiles:
          quick: {{seeds: [0], expected_seconds: 5, paper_protocol: true}}
        claims:
          - {{id: score, metric: score, reported: 42, direction: higher, tolerance: {{abs: 0.5}}, source: Table 1}}
        """)
    (paper / "paper.yaml").write_text(manifest)
    monkeypatch.setenv("REPRO_PAPERS", str(paper.parent))
    return {"paper": paper, "wheels": wheels, "manifest": manifest}


def test_a_missing_requirement_is_installed_into_the_papers_environment(needy, repro_home):
    shown = run_repro("show", "needy")
    assert "reprotoypkg==1.0: to be installed by `repro fetch needy`" in shown.stdout
    assert "scipy: the harness has it" in shown.stdout
    planned = run_repro("run", "needy", "--impl", "reference", "--dry-run")
    assert "reprotoypkg==1.0: to be installed" in planned.stdout

    fetched = run_repro("fetch", "needy", "--json")
    assert fetched.returncode == 0, fetched.stderr
    env = Path(json.loads(fetched.stdout)["environment"])
    built = json.loads((env / "repro-env.json").read_text())
    assert built["installed"] == ["reprotoypkg==1.0"]  # scipy and torch come from the harness: not installed again
    assert "installed in the paper's environment" in run_repro("show", "needy").stdout

    for style in ("script", "import"):  # the authors' script (ctx.python), and the worker itself
        result = run_repro("run", "needy", "--impl", "reference", "--set", f"style={style}", "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        assert json.loads(result.stdout)["claims"][0]["values"] == [42.0]


def test_the_environment_is_reused_offline(needy, repro_home, monkeypatch):
    assert run_repro("fetch", "needy").returncode == 0
    for wheel in needy["wheels"].iterdir():
        wheel.unlink()  # nothing to install from any more: a rebuild would fail
    result = run_repro("run", "needy", "--impl", "reference", "--json")
    assert result.returncode == 0, result.stderr
    assert "installing" not in result.stderr


def test_a_requirement_pip_cannot_find_fails_the_fetch_with_pips_reason(needy, repro_home):
    manifest = needy["paper"] / "paper.yaml"
    manifest.write_text(needy["manifest"].replace("reprotoypkg==1.0", "reprotoypkg==2.0"))
    result = run_repro("fetch", "needy")
    assert result.returncode == 3
    assert "pip could not install" in result.stderr and "reprotoypkg==2.0" in result.stderr
    assert "full log:" in result.stderr and "Traceback" not in result.stderr
    assert not list((repro_home / "envs").glob("needy-*/repro-env.json"))  # no half-built environment kept


def test_a_module_the_authors_code_lacks_is_named_with_the_fix(needy, repro_home):
    manifest = needy["paper"] / "paper.yaml"
    manifest.write_text(needy["manifest"].replace("[reprotoypkg==1.0, scipy]", "[scipy]"))
    result = run_repro("run", "needy", "--impl", "reference")
    assert result.returncode == 3
    assert "train.py exited with code 1: ModuleNotFoundError: No module named 'reprotoypkg'" in result.stdout
    assert "fix: the authors' code imports `reprotoypkg`: add `reprotoypkg` to requirements in" in result.stdout


@pytest.mark.parametrize("requirement, reason", [
    ("torch>=2", "torch comes from the harness"),
    ("not a requirement!", "is not a pip requirement"),
    ("pkg @ https://example.org/pkg.whl", "not a URL"),
])
def test_bad_requirements_are_manifest_errors(needy, requirement, reason):
    manifest = needy["paper"] / "paper.yaml"
    manifest.write_text(needy["manifest"].replace("[reprotoypkg==1.0, scipy]", json.dumps([requirement])))
    result = run_repro("show", "needy")
    assert result.returncode == 2
    assert "requirements" in result.stderr and reason in result.stderr and "Traceback" not in result.stderr


def test_changed_requirements_build_a_new_environment_and_mention_the_old(needy, repro_home):
    assert run_repro("fetch", "needy").returncode == 0
    make_wheel(needy["wheels"], "reprotoypkg", "1.1", "VALUE = 43\n")
    manifest = needy["paper"] / "paper.yaml"
    manifest.write_text(needy["manifest"].replace("reprotoypkg==1.0", "reprotoypkg==1.1"))
    fetched = run_repro("fetch", "needy", "--json")
    assert fetched.returncode == 0, fetched.stderr
    assert "1 environment(s) of needy for earlier requirements" in fetched.stderr
    assert len(list((repro_home / "envs").glob("needy-*/repro-env.json"))) == 2  # the old one is not deleted
    result = run_repro("run", "needy", "--impl", "reference", "--json")
    assert json.loads(result.stdout)["claims"][0]["values"] == [43.0]
