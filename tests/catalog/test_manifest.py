"""The paper manifest (papers/<id>/paper.yaml): the shipped one is valid, and the mistakes
students really make are each reported as 'file: field: reason', all at once, with exit
code 2 and no traceback, through both the library API and the `repro` CLI.

Each case starts from a copy of the valid mnist1d manifest, breaks one thing, writes it to
tmp_path/papers/<id>/paper.yaml and checks the problem that comes back. The bulk runs
through `load_manifest` (fast); cases marked cli=True also run through `repro show`.
Cases marked xfail(strict=True) document harness problems: they pass once it is fixed.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import yaml

from repro.errors import ManifestError, UsageError
from repro.catalog import load_manifest, load_paper

REPO_ROOT = Path(__file__).resolve().parents[2]
MNIST1D_YAML = REPO_ROOT / "papers" / "mnist1d" / "paper.yaml"
GOOD_COMMIT = "7878d96082abd200c546a07a4101fa90b30fdf7e"
ALL_FIELDS_CHECKED = "file: field: reason"


# ------------------------------------------------------------------------ helpers


def base_manifest() -> dict:
    """A fresh, mutable copy of the valid mnist1d manifest."""
    return copy.deepcopy(_BASE)


_BASE = yaml.safe_load(MNIST1D_YAML.read_text(encoding="utf-8"))
_SOURCE = MNIST1D_YAML.read_text(encoding="utf-8")


def write_paper(papers: Path, paper_id: str, data: dict | None = None, text: str | None = None,
                raw: bytes | None = None) -> Path:
    """Write papers/<paper_id>/paper.yaml from a dict, a YAML text or raw bytes; return its path."""
    path = papers / paper_id / "paper.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if raw is not None:
        path.write_bytes(raw)
    elif text is not None:
        path.write_text(text, encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path.resolve()


def run_cli(*args: str, papers: Path, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, REPRO_PAPERS=str(papers), REPRO_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "repro", *args],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )


def problems_of(path: Path) -> list[str]:
    """The problems load_manifest reports for `path` (it must report some)."""
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    problems = info.value.problems
    assert isinstance(problems, list) and problems, "ManifestError without problems"
    assert all(isinstance(p, str) for p in problems)
    return problems


def find_problem(problems: list[str], path: Path, field_name: str) -> str:
    """The single problem line 'path: field: reason' for this exact field."""
    prefix = f"{path}: {field_name}: "
    matching = [p for p in problems if p.startswith(prefix)]
    assert matching, f"no problem for field {field_name!r}; got:\n" + "\n".join(problems)
    return matching[0]


def assert_no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the mnist1d manifest changed: {old!r} not found exactly once"
    return text.replace(old, new)


def line_number(text: str, line_start: str, occurrence: int = 1) -> int:
    """1-based number of the `occurrence`-th line of `text` that starts with `line_start`."""
    found = [i + 1 for i, line in enumerate(text.splitlines()) if line.startswith(line_start)]
    return found[occurrence - 1]


# ------------------------------------------------------------------------ mutations


def setv(*path_and_value):
    """A mutation that sets manifest[path...] = value."""
    *path, value = path_and_value

    def mutate(data: dict) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def delete(*path):
    """A mutation that deletes manifest[path...]."""

    def mutate(data: dict) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


def rename_top_level(old: str, new: str):
    def mutate(data: dict) -> None:
        data[new] = data.pop(old)

    return mutate


def drop_claim_ids(data: dict) -> None:
    for claim in data["claims"][:2]:
        del claim["id"]


@dataclass
class Mistake:
    id: str
    field: str | Callable[[str], str] | None  # the field name, f(yaml source) for YAML errors, None: any
    reasons: tuple[str, ...]  # fragments the reason must contain
    mutate: Callable[[dict], None] | None = None  # edits the parsed manifest...
    text: Callable[[str], str] | None = None  # ...or the YAML source text
    raw: Callable[[str], bytes] | None = None  # ...or produces the file's bytes
    count: int = 1  # how many problems this one mistake should produce
    cli: bool = False  # also run it through `repro show`
    xfail: str | None = None  # a harness problem this case documents
    marks: list = field(default_factory=list)

    def write(self, papers: Path) -> Path:
        if self.raw is not None:
            return write_paper(papers, "mnist1d", raw=self.raw(_SOURCE))
        if self.text is not None:
            new = self.text(_SOURCE)
            assert new != _SOURCE
            return write_paper(papers, "mnist1d", text=new)
        data = base_manifest()
        self.mutate(data)
        return write_paper(papers, "mnist1d", data)

    def field_name(self) -> str | None:
        return self.field(_SOURCE) if callable(self.field) else self.field

    def find(self, lines: list[str], prefix: str) -> str:
        """The line `prefix`'field: ' that reports this mistake (any field when self.field is None)."""
        name = self.field_name()
        start = prefix if name is None else f"{prefix}{name}: "
        matching = [line for line in lines if line.startswith(start)]
        assert matching, f"no line starting {start!r} in:\n" + "\n".join(lines)
        line = matching[0] if name is not None else matching[0].lower()
        for reason in self.reasons:
            assert (reason if name is not None else reason.lower()) in line, f"{reason!r} not in {line!r}"
        return line


SHA_REASON = "is not a full 40-hex commit SHA"
URL_REASON = "is not an https, ssh or scp-style git URL"
NAME_REASON = "must be lower-case letters, digits and underscores"
MLP = "claims[1] (mlp_test_acc)"

MISTAKES = [
    # --- reference: the authors' code, pinned
    Mistake("commit_is_branch_name", "reference.commit", (SHA_REASON, "'master'", "branches move"),
            setv("reference", "commit", "master"), cli=True),
    Mistake("commit_is_short_sha", "reference.commit", (SHA_REASON, "'7878d96'"),
            setv("reference", "commit", GOOD_COMMIT[:7])),
    Mistake("commit_is_uppercase_hex", "reference.commit", (SHA_REASON, GOOD_COMMIT.upper()),
            setv("reference", "commit", GOOD_COMMIT.upper())),
    Mistake("commit_has_non_hex_letter", "reference.commit", (SHA_REASON,),
            setv("reference", "commit", GOOD_COMMIT.replace("0", "o"))),
    Mistake("commit_all_digits_parsed_as_int", "reference.commit", ("valid string", "1234567"),
            text=lambda s: replace_once(s, f"commit: {GOOD_COMMIT}", "commit: 1234567")),
    Mistake("commit_is_tag", "reference.commit", (SHA_REASON, "'v1.0'"),
            setv("reference", "commit", "v1.0")),
    Mistake("repo_ext_transport", "reference.repo", (URL_REASON, "ext::"),
            setv("reference", "repo", "ext::sh -c touch% /tmp/pwned"), cli=True),
    Mistake("repo_file_url", "reference.repo", (URL_REASON, "file:///home/student/mnist1d"),
            setv("reference", "repo", "file:///home/student/mnist1d")),
    Mistake("repo_plain_http", "reference.repo", (URL_REASON, "http://github.com/greydanus/mnist1d"),
            setv("reference", "repo", "http://github.com/greydanus/mnist1d")),
    Mistake("repo_local_clone_path", "reference.repo", (URL_REASON, "../mnist1d"),
            setv("reference", "repo", "../mnist1d")),
    Mistake("repo_option_injection", "reference.repo", (URL_REASON,),
            setv("reference", "repo", "--upload-pack=touch /tmp/pwned")),
    Mistake("reference_is_bare_url", "reference", ("valid dictionary",),
            setv("reference", "https://github.com/greydanus/mnist1d")),
    Mistake("reference_missing_commit", "reference.commit", ("required field is missing",),
            delete("reference", "commit")),
    # --- metadata
    Mistake("title_missing", "title", ("required field is missing",), delete("title"), cli=True),
    Mistake("title_empty", "title", ("at least 1 character",), setv("title", "")),
    Mistake("venue_missing", "venue", ("required field is missing",), delete("venue")),
    Mistake("year_as_word", "year", ("valid integer", "'twenty'"), setv("year", "twenty")),
    Mistake("year_two_digits", "year", ("greater than or equal to 1950", "24"), setv("year", 24)),
    Mistake("year_in_the_future", "year", ("less than or equal to 2100", "20245"), setv("year", 20245)),
    Mistake("unknown_top_level_field_claimz", "claimz", ("unknown field", "repro schema"),
            rename_top_level("claims", "claimz"), count=2, cli=True),
    Mistake("unknown_top_level_field_url", "url", ("unknown field",),
            setv("url", "https://arxiv.org/abs/2011.14439")),
    Mistake("id_differs_from_folder", "id", ("'mnist_1d'", "differs from the folder name", "'mnist1d'"),
            setv("id", "mnist_1d"), cli=True),
    Mistake("id_uppercase", "id", (NAME_REASON, "'MNIST1D'"), setv("id", "MNIST1D"), count=2),
    Mistake("arxiv_with_prefix", "arxiv", ("not an arXiv identifier", "'arXiv:2011.14439'"),
            setv("arxiv", "arXiv:2011.14439")),
    Mistake("arxiv_is_url", "arxiv", ("not an arXiv identifier",),
            setv("arxiv", "https://arxiv.org/abs/2011.14439")),
    Mistake("arxiv_unquoted_is_float", "arxiv", ("valid string", "2011.14439"),
            text=lambda s: replace_once(s, 'arxiv: "2011.14439"', "arxiv: 2011.14439")),
    Mistake("authors_empty_list", "authors", ("at least 1 item",), setv("authors", [])),
    Mistake("authors_one_string", "authors", ("valid list", "Sam Greydanus, Dmitry Kobak"),
            setv("authors", "Sam Greydanus, Dmitry Kobak")),
    Mistake("config_as_list", "config", ("valid dictionary",),
            setv("config", ["model", "total_steps", "batch_size"])),
    # --- claims
    Mistake("claim_unknown_field_typo", f"{MLP}.tolerence", ("unknown field",),
            lambda d: d["claims"][1].update(tolerence=d["claims"][1].pop("tolerance")), count=2, cli=True),
    Mistake("claim_missing_reported", f"{MLP}.reported", ("required field is missing",),
            delete("claims", 1, "reported")),
    Mistake("claim_reported_with_percent", f"{MLP}.reported", ("must be a number", "'68%'"),
            setv("claims", 1, "reported", "68%")),
    Mistake("claim_direction_up", f"{MLP}.direction", ("'higher' or 'lower'", "'up'"),
            setv("claims", 1, "direction", "up"), cli=True),
    Mistake("claim_tolerance_both_abs_and_rel", f"{MLP}.tolerance", ("exactly one of 'abs' or 'rel'",),
            setv("claims", 1, "tolerance", {"abs": 3.5, "rel": 0.05}), cli=True),
    Mistake("claim_tolerance_neither", f"{MLP}.tolerance", ("exactly one of 'abs' or 'rel'",),
            setv("claims", 1, "tolerance", {})),
    Mistake("claim_tolerance_negative", f"{MLP}.tolerance.abs", ("greater than 0", "-3.5"),
            setv("claims", 1, "tolerance", {"abs": -3.5})),
    Mistake("claim_tolerance_rel_as_percent", f"{MLP}.tolerance.rel", ("less than 1", "5"),
            setv("claims", 1, "tolerance", {"rel": 5})),
    Mistake("claim_tolerance_bare_number", f"{MLP}.tolerance", ("valid dictionary", "3.5"),
            setv("claims", 1, "tolerance", 3.5)),
    Mistake("claim_tolerance_key_typo", f"{MLP}.tolerance.absolute", ("unknown field",),
            setv("claims", 1, "tolerance", {"absolute": 3.5})),
    Mistake("claim_duplicate_id", "claims[2] (mlp_test_acc).id", ("duplicate claim id",),
            setv("claims", 2, "id", "mlp_test_acc"), cli=True),
    Mistake("claim_setting_key_not_in_config", f"{MLP}.setting.modle",
            ("not a config key", "model, total_steps, batch_size"),
            setv("claims", 1, "setting", {"modle": "mlp"}), cli=True),
    Mistake("claim_id_with_spaces_and_caps", "claims[1] (MLP test acc).id", (NAME_REASON, "'MLP test acc'"),
            setv("claims", 1, "id", "MLP test acc")),
    Mistake("claim_metric_with_dash", f"{MLP}.metric", (NAME_REASON, "'test-acc'"),
            setv("claims", 1, "metric", "test-acc")),
    Mistake("claim_reported_sd_negative", f"{MLP}.reported_sd", ("greater than or equal to 0",),
            setv("claims", 1, "reported_sd", -0.4)),
    Mistake("claims_empty_list", "claims", ("at least 1 item",), setv("claims", [])),
    Mistake("claims_as_mapping_by_id", "claims", ("valid list",),
            lambda d: d.update(claims={c["id"]: c for c in d["claims"]})),
    Mistake("claim_is_null", "claims[1]", ("valid dictionary",), setv("claims", 1, None)),
    # --- profiles
    Mistake("profile_config_key_not_in_config", "profiles.quick.config.steps",
            ("not a config key", "total_steps"), setv("profiles", "quick", "config", {"steps": 2000}), cli=True),
    Mistake("profile_claims_unknown_claim", "profiles.quick.claims", ("'mlp_acc' is not a claim id",),
            setv("profiles", "quick", "claims", ["mlp_acc"])),
    Mistake("profile_claims_single_string", "profiles.quick.claims", ("valid list",),
            setv("profiles", "quick", "claims", "mlp_test_acc")),
    Mistake("profile_protocol_missing", "profiles", ("no profile has paper_protocol: true",),
            lambda d: (d["profiles"].pop("full"), d["profiles"]["quick"].update(paper_protocol=False)), cli=True),
    Mistake("profile_quick_capitalised", "profiles", ("missing profile(s) quick",),
            lambda d: d["profiles"].update(Quick=d["profiles"].pop("quick"))),
    Mistake("seeds_empty_list", "profiles.quick.seeds", ("at least one seed",),
            setv("profiles", "quick", "seeds", [])),
    Mistake("seeds_negative", "profiles.quick.seeds", ("distinct non-negative integers",),
            setv("profiles", "quick", "seeds", [-1, 0, 1])),
    Mistake("seeds_repeated", "profiles.quick.seeds", ("distinct non-negative integers",),
            setv("profiles", "quick", "seeds", [0, 0, 1])),
    Mistake("seeds_zero_count", "profiles.full.seeds", ("seed count must be at least 1",),
            setv("profiles", "full", "seeds", 0)),
    Mistake("quick_expected_seconds_missing", "profiles", ("quick.expected_seconds is required",),
            delete("profiles", "quick", "expected_seconds")),
    Mistake("expected_seconds_with_unit", "profiles.full.expected_seconds", ("must be a number", "'150s'"),
            setv("profiles", "full", "expected_seconds", "150s")),
    Mistake("expected_seconds_zero", "profiles.full.expected_seconds", ("greater than 0",),
            setv("profiles", "full", "expected_seconds", 0)),
    Mistake("paper_protocol_missing", "profiles.full.paper_protocol", ("required field is missing",),
            delete("profiles", "full", "paper_protocol")),
    # --- the YAML itself
    Mistake("yaml_unquoted_colon_in_title",
            lambda s: f"line {line_number(s, 'title:')}, column 16", ("mapping values are not allowed",),
            text=lambda s: replace_once(s, 'title: "Scaling Down Deep Learning with MNIST-1D"',
                                        "title: MNIST-1D: Scaling Down Deep Learning"), cli=True),
    Mistake("yaml_tab_indentation",
            lambda s: f"line {line_number(s, '  total_steps:')}, column 1", ("'\\t'", "cannot start any token"),
            text=lambda s: replace_once(s, "  total_steps: 6000", "\ttotal_steps: 6000"), cli=True),
    Mistake("yaml_duplicate_top_level_key",
            lambda s: f"line {line_number(s, 'year:') + 1}, column 1", ("duplicate key 'year'",),
            text=lambda s: replace_once(s, "year: 2024\n", "year: 2024\nyear: 2020\n"), cli=True),
    Mistake("yaml_duplicate_config_key",
            lambda s: f"line {line_number(s, '  batch_size:') + 1}, column 3", ("duplicate key 'batch_size'",),
            text=lambda s: replace_once(s, "  batch_size: 100\n", "  batch_size: 100\n  batch_size: 50\n")),
    Mistake("yaml_top_level_list", "(top level)", ("expected a mapping of fields", "list"),
            text=lambda s: "".join(f"- {line}\n" for line in s.splitlines()[1:6]), cli=True),
    # --- problems the first version of the harness had
    Mistake("seeds_cli_style_string", "profiles.full.seeds", ("'0,1,2'",),
            setv("profiles", "full", "seeds", "0,1,2")),
    Mistake("claim_setting_value_is_list", f"{MLP}.setting.model", ("mlp",),
            setv("claims", 1, "setting", {"model": ["mlp", "cnn"]})),
    Mistake("two_claims_missing_id", "claims[1].id", ("required field is missing",),
            drop_claim_ids, count=2),
    Mistake("commit_with_trailing_newline", "reference.commit", (SHA_REASON,),
            text=lambda s: replace_once(s, f"  commit: {GOOD_COMMIT}\n", f"  commit: |\n    {GOOD_COMMIT}\n")),
    Mistake("reported_nan_placeholder", f"{MLP}.reported", ("finite",),
            text=lambda s: replace_once(s, "    reported: 68.0\n", "    reported: .nan\n")),
    Mistake("arxiv_unquoted_hint", "arxiv", ("valid string", "quote"),
            text=lambda s: replace_once(s, 'arxiv: "2011.14439"', "arxiv: 2011.14439")),
    Mistake("yaml_empty_file_says_empty", "(top level)", ("empty",), text=lambda s: ""),
    Mistake("file_not_utf8", None, ("UTF-8",),
            raw=lambda s: s.replace("Dmitry Kobak", "Dmitry Kobák").encode("latin-1"), cli=True),
    Mistake("yaml_unhashable_key", None, ("key",),
            text=lambda s: replace_once(s, "year: 2024\n", "? [year, month]\n: [2024, 7]\nyear: 2024\n"),
            cli=True),
]


def _params(mistakes, only_cli=False):
    params = []
    for mistake in mistakes:
        if only_cli and not mistake.cli:
            continue
        marks = list(mistake.marks)
        if mistake.xfail:
            marks.append(pytest.mark.xfail(reason=mistake.xfail, strict=True))
        params.append(pytest.param(mistake, id=mistake.id, marks=marks))
    return params


def test_mistake_ids_are_distinct_and_enough():
    ids = [m.id for m in MISTAKES]
    assert len(ids) == len(set(ids))
    passing = [m for m in MISTAKES if not m.xfail]
    assert len(passing) >= 22
    assert len([m for m in passing if m.cli]) >= 5


# ------------------------------------------------------------------------ 1. the shipped manifest


def test_shipped_mnist1d_manifest_is_valid():
    paper = load_manifest(MNIST1D_YAML)
    assert paper.id == "mnist1d" == MNIST1D_YAML.parent.name
    assert paper.reference.commit == GOOD_COMMIT
    assert {"quick", "full"} <= set(paper.profiles)
    assert [c.id for c in paper.claims] == ["logistic_test_acc", "mlp_test_acc", "cnn_test_acc", "gru_test_acc"]
    assert paper.folder == MNIST1D_YAML.parent.resolve()


def test_shipped_mnist1d_loads_by_id(monkeypatch):
    monkeypatch.delenv("REPRO_PAPERS", raising=False)
    assert load_paper("mnist1d").manifest_path == MNIST1D_YAML.resolve()


def test_cli_show_mnist1d(tmp_path):
    papers = tmp_path / "papers"
    shutil.copytree(MNIST1D_YAML.parent, papers / "mnist1d")
    result = run_cli("show", "mnist1d", papers=papers, home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    assert "Scaling Down Deep Learning with MNIST-1D" in result.stdout
    assert GOOD_COMMIT in result.stdout
    for claim_id in ("logistic_test_acc", "mlp_test_acc", "cnn_test_acc", "gru_test_acc"):
        assert claim_id in result.stdout


def test_round_trip_of_the_copy_is_valid(tmp_path):
    """The mutation cases start from yaml.safe_dump(base_manifest()): that copy must itself be valid."""
    path = write_paper(tmp_path / "papers", "mnist1d", base_manifest())
    assert load_manifest(path).claims[1].id == "mlp_test_acc"


# ------------------------------------------------------------------------ 2. mistakes, one at a time


@pytest.mark.parametrize("mistake", _params(MISTAKES))
def test_mistake_is_reported(mistake: Mistake, tmp_path):
    path = mistake.write(tmp_path / "papers")
    problems = problems_of(path)
    for problem in problems:
        assert problem.startswith(f"{path}: "), f"not {ALL_FIELDS_CHECKED!r}: {problem}"
    mistake.find(problems, f"{path}: ")
    assert len(problems) == mistake.count, "\n".join(problems)


@pytest.mark.parametrize("mistake", _params(MISTAKES, only_cli=True))
def test_mistake_via_cli_show(mistake: Mistake, tmp_path):
    papers = tmp_path / "papers"
    path = mistake.write(papers)
    result = run_cli("show", "mnist1d", papers=papers, home=tmp_path / "home")
    assert_no_traceback(result)
    assert result.returncode == 2, result.stderr
    assert f"{mistake.count} problem(s)" in result.stderr
    mistake.find(result.stderr.splitlines(), f"  {path}: ")
    assert result.stdout == ""


def test_load_paper_raises_manifest_error_with_problems(tmp_path, monkeypatch):
    papers = tmp_path / "papers"
    data = base_manifest()
    data["reference"]["commit"] = "main"
    path = write_paper(papers, "mnist1d", data)
    monkeypatch.setenv("REPRO_PAPERS", str(papers))
    with pytest.raises(ManifestError) as info:
        load_paper("mnist1d")
    assert info.value.exit_code == 2
    assert info.value.problems == [
        f"{path}: reference.commit: 'main' is not a full 40-hex commit SHA (branches move; pin the commit "
        "you reproduced, e.g. `git rev-parse master` in the repo)"
    ]


# ------------------------------------------------------------------------ 3. every problem at once


def _many_mistakes() -> dict:
    data = base_manifest()
    data["reference"]["commit"] = "master"                      # reference: pydantic validator
    data["year"] = "twenty"                                      # metadata: pydantic type
    data["claimz"] = []                                          # top level: unknown field
    data["claims"][1]["direction"] = "up"                        # claims: pydantic literal
    data["claims"][2]["setting"] = {"modle": "cnn"}              # claims: cross-section check
    data["claims"][3]["id"] = "mlp_test_acc"                     # claims: cross-check duplicate
    data["profiles"]["quick"]["config"] = {"steps": 2000}        # profiles: cross-section check
    data["profiles"]["full"]["seeds"] = 0                        # profiles: pydantic validator
    data["profiles"]["full"]["claims"] = ["cnn_acc"]             # profiles: cross-section check
    data["id"] = "mnist_1d"                                      # id vs folder: cross-check
    return data


MANY_FIELDS = {
    "reference.commit": SHA_REASON,
    "year": "valid integer",
    "claimz": "unknown field",
    "claims[1] (mlp_test_acc).direction": "'higher' or 'lower'",
    "claims[2] (cnn_test_acc).setting.modle": "not a config key",
    "claims[3] (mlp_test_acc).id": "duplicate claim id",
    "profiles.quick.config.steps": "not a config key",
    "profiles.full.seeds": "at least 1",
    "profiles.full.claims": "'cnn_acc' is not a claim id",
    "id": "differs from the folder name",
}


def test_all_problems_reported_at_once_library(tmp_path):
    path = write_paper(tmp_path / "papers", "mnist1d", _many_mistakes())
    problems = problems_of(path)
    for field_name, reason in MANY_FIELDS.items():
        assert reason in find_problem(problems, path, field_name)
    assert len(problems) == len(MANY_FIELDS), "\n".join(problems)


def test_all_problems_reported_at_once_cli(tmp_path):
    papers = tmp_path / "papers"
    path = write_paper(papers, "mnist1d", _many_mistakes())
    result = run_cli("show", "mnist1d", papers=papers, home=tmp_path / "home")
    assert_no_traceback(result)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: {len(MANY_FIELDS)} problem(s) in the manifest:"
    assert len(lines) == 1 + len(MANY_FIELDS), result.stderr
    for field_name, reason in MANY_FIELDS.items():
        matching = [l for l in lines if l.startswith(f"  {path}: {field_name}: ")]
        assert len(matching) == 1 and reason in matching[0], (field_name, result.stderr)


# ------------------------------------------------------------------------ 4. repro list


def _good_and_broken(tmp_path) -> Path:
    papers = tmp_path / "papers"
    good = base_manifest()
    good["id"] = "goodpaper"
    write_paper(papers, "goodpaper", good)
    broken = base_manifest()
    broken["id"] = "brokenpaper"
    broken["year"] = "twenty"
    broken["reference"]["commit"] = "master"
    write_paper(papers, "brokenpaper", broken)
    return papers


def test_cli_list_good_and_broken(tmp_path):
    papers = _good_and_broken(tmp_path)
    result = run_cli("list", papers=papers, home=tmp_path / "home")
    assert_no_traceback(result)
    assert result.returncode == 2
    good_rows = [l for l in result.stdout.splitlines() if l.startswith("goodpaper ")]
    assert good_rows and "Scaling Down Deep Learning with MNIST-1D" in good_rows[0]
    output = result.stdout + result.stderr
    assert "brokenpaper" in output
    assert "2 problem(s)" in output
    assert not any(l.startswith("brokenpaper ") for l in result.stdout.splitlines())


def test_cli_list_only_good_exits_0(tmp_path):
    papers = tmp_path / "papers"
    write_paper(papers, "mnist1d", base_manifest())
    result = run_cli("list", papers=papers, home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "mnist1d" in result.stdout and "broken" not in result.stdout


def test_cli_list_json_mentions_broken(tmp_path):
    papers = _good_and_broken(tmp_path)
    result = run_cli("list", "--json", papers=papers, home=tmp_path / "home")
    assert_no_traceback(result)
    assert result.returncode == 2
    assert [p["id"] for p in json.loads(result.stdout)] == ["goodpaper"]
    assert "brokenpaper" in result.stdout + result.stderr


def test_cli_list_survives_badly_named_folder(tmp_path):
    papers = tmp_path / "papers"
    write_paper(papers, "mnist1d", base_manifest())
    bad = base_manifest()
    bad["id"] = "My-Paper"
    write_paper(papers, "My-Paper", bad)
    result = run_cli("list", papers=papers, home=tmp_path / "home")
    assert_no_traceback(result)
    assert result.returncode == 2
    assert any(l.startswith("mnist1d ") for l in result.stdout.splitlines()), result.stdout + result.stderr
    assert "My-Paper" in result.stdout + result.stderr


# ------------------------------------------------------------------------ 5. repro schema


def _cli_schema(tmp_path) -> dict:
    (tmp_path / "papers").mkdir(exist_ok=True)
    result = run_cli("schema", papers=tmp_path / "papers", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    return json.loads(result.stdout)


def test_cli_schema_is_json_with_the_top_level_fields(tmp_path):
    schema = _cli_schema(tmp_path)
    assert {"id", "reference", "claims", "profiles"} <= set(schema["properties"])
    assert {"id", "title", "reference", "config", "profiles", "claims"} <= set(schema["required"])
    assert schema.get("additionalProperties") is False


def test_shipped_mnist1d_validates_against_cli_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = _cli_schema(tmp_path)
    jsonschema.validate(yaml.safe_load(MNIST1D_YAML.read_text(encoding="utf-8")), schema)
    typo = base_manifest()
    typo["claimz"] = typo.pop("claims")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(typo, schema)


def test_schema_file_named_by_the_modeline_is_current(tmp_path):
    """The editor modeline of the shipped manifest names a schema file equal to `repro schema`."""
    first_line = _SOURCE.splitlines()[0]
    assert first_line.startswith("# yaml-language-server: $schema=")
    target = (MNIST1D_YAML.parent / first_line.split("$schema=", 1)[1]).resolve()
    assert target.is_file(), target
    assert json.loads(target.read_text(encoding="utf-8")) == _cli_schema(tmp_path)


# ------------------------------------------------------------------------ 6. unknown paper id


def test_cli_show_unknown_paper_names_the_known_ones(tmp_path):
    papers = _good_and_broken(tmp_path)
    result = run_cli("show", "nope", papers=papers, home=tmp_path / "home")
    assert_no_traceback(result)
    assert result.returncode == 2
    assert "unknown paper 'nope'" in result.stderr
    assert "goodpaper" in result.stderr and "brokenpaper" in result.stderr
    assert "repro list" in result.stderr


def test_load_paper_unknown_id_and_path_like_id(tmp_path, monkeypatch):
    papers = tmp_path / "papers"
    write_paper(papers, "mnist1d", base_manifest())
    monkeypatch.setenv("REPRO_PAPERS", str(papers))
    for bad in ("nope", "../papers/mnist1d", "MNIST1D"):
        with pytest.raises(UsageError, match=r"known: mnist1d"):
            load_paper(bad)
