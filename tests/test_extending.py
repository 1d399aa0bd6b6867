"""The extension points are files: a new executor and a new command are picked up from the
file alone (here laid in a folder added to the package's search path), with nothing else
edited. (A new paper is a folder: tests/papers/test_catalog.py runs over whatever is there.)"""

from __future__ import annotations

import json
import sys

import pytest

from conftest import run_repro

INLINE_EXECUTOR = '''\
"""An executor in a file of its own: the local workers, one at a time, with an option."""

from pydantic import BaseModel, ConfigDict

from repro.execute.local import LocalExecutor


class InlineOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = "none"


class InlineExecutor(LocalExecutor):
    """The local workers, one at a time, labelled."""

    name = "inline"
    summary = "one run at a time, labelled"
    Options = InlineOptions

    @classmethod
    def add_arguments(cls, group) -> None:
        group.add_argument("--label", help="a label for the batch")

    def run_batch(self, specs, jobs, batch, expected_seconds):
        batch.progress.note(f"inline executor, label {self.options.label}, {len(specs)} run(s)")
        return super().run_batch(specs, 1, batch, expected_seconds)


EXECUTOR = InlineExecutor
'''

HELLO_COMMAND = '''\
"""`repro hello`: a command in a file of its own."""

PARSER = dict(help="say hello to a paper")


def add_arguments(p) -> None:
    p.add_argument("paper")


def handle(args) -> int:
    from repro.catalog import load_paper

    print(f"hello, {load_paper(args.paper).title}")
    return 0
'''


@pytest.fixture
def extra_modules(tmp_path, monkeypatch):
    """Lay a module file into repro.execute or repro.commands (through the package's __path__)."""
    import repro.commands
    import repro.execute

    def add(package, name: str, text: str) -> None:
        folder = tmp_path / package.__name__
        folder.mkdir(exist_ok=True)
        (folder / f"{name}.py").write_text(text)
        monkeypatch.setattr(package, "__path__", [*package.__path__, str(folder)])
        monkeypatch.delitem(sys.modules, f"{package.__name__}.{name}", raising=False)

    yield {"execute": lambda name, text: add(repro.execute, name, text),
           "commands": lambda name, text: add(repro.commands, name, text)}
    for name in ("repro.execute.inline", "repro.commands.hello"):
        sys.modules.pop(name, None)


def test_a_new_executor_is_one_file(extra_modules, tiny_papers, repro_home, tmp_path, monkeypatch):
    extra_modules["execute"]("inline", INLINE_EXECUTOR)
    helped = run_repro("run", "--help")
    assert "--executor {local,inline,slurm}" in helped.stdout and "inline: one run at a time" in helped.stdout
    assert "--label" in helped.stdout  # its own flag

    result = run_repro("run", "tiny", "--executor", "inline", "--label", "from-the-flag", "--json")
    assert result.returncode == 0, result.stderr
    assert "inline executor, label from-the-flag, 2 run(s)" in result.stderr
    assert [c["verdict"] for c in json.loads(result.stdout)["claims"]] == ["REPRODUCED", "REPRODUCED"]

    monkeypatch.delenv("REPRO_CONFIG", raising=False)
    (tmp_path / "repro.toml").write_text('[run]\nexecutor = "inline"\n[inline]\nlabel = "from-the-file"\n')
    configured = run_repro("config", "--json", cwd=tmp_path)
    assert json.loads(configured.stdout)["inline"] == {"label": "from-the-file"}
    from_file = run_repro("run", "tiny", "--claims", "a_score", cwd=tmp_path)
    assert from_file.returncode == 0 and "inline executor, label from-the-file, 1 run(s)" in from_file.stderr

    (tmp_path / "repro.toml").write_text('[inline]\nlable = "typo"\n')
    wrong = run_repro("config", cwd=tmp_path)
    assert wrong.returncode == 2 and f"{tmp_path / 'repro.toml'}: inline.lable: not a setting" in wrong.stderr


def test_a_new_command_is_one_file(extra_modules, tiny_papers):
    extra_modules["commands"]("hello", HELLO_COMMAND)
    assert "say hello to a paper" in run_repro("--help").stdout
    result = run_repro("hello", "tiny")
    assert result.returncode == 0 and result.stdout == "hello, A tiny paper for testing the harness\n"
    unknown = run_repro("hello", "nope")
    assert unknown.returncode == 2 and "unknown paper 'nope'" in unknown.stderr
