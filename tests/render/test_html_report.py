"""The HTML report and the plots, on records of the tiny paper (no real training).

Two implementations run the tiny paper's full profile: reimpl (both claims REPRODUCED) and
a student, alice, whose score for variant a is too low (WORSE) and who logs a score curve.
A second paper, never run, has HTML special characters in its title.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import TINY_MANIFEST, run_repro
from repro.render.html import latest_batches, write_report
from repro.catalog import load_paper
from repro.records import Record
from repro.render.plots import plot_run

PNG_MAGIC = b"\x89PNG"
ESCAPED_TITLE = 'Escaping <b>& "quotes" in titles'

ALICE = '''\
"""A student's implementation: variant a comes out too low, variant b close to the paper."""


def run(cfg, ctx):
    target = {"a": 0.7, "b": 2.05}[cfg["variant"]] + 0.01 * ctx.seed
    ctx.expect_steps(cfg["steps"])
    for step in range(1, cfg["steps"] + 1):
        ctx.log(step, score=target * step / cfg["steps"])
    return {"score": target}
'''


def add_papers(papers: Path) -> None:
    """alice beside the tiny paper's reimpl, and a paper that is never run, with a hostile title."""
    students = papers / "tiny" / "students"
    students.mkdir()
    (students / "alice.py").write_text(ALICE)
    other = papers / "escaping"
    other.mkdir()
    manifest = TINY_MANIFEST.replace("id: tiny", "id: escaping").replace(
        "title: A tiny paper for testing the harness", f"title: '{ESCAPED_TITLE}'"
    )
    (other / "paper.yaml").write_text(manifest)


def make_report(papers: Path, out_dir: Path) -> Path:
    add_papers(papers)
    result = run_repro("run", "tiny", "--profile", "full")
    assert result.returncode == 0, result.stderr
    result = run_repro("run", "tiny", "--impl", "alice", "--profile", "full")
    assert result.returncode == 1, result.stderr  # a_score is WORSE
    return write_report(None, out_dir)


class ReportParser(HTMLParser):
    """Collects the catalog rows (paper, impl -> {claim: verdict}), the claim figures' images
    and the text of the h2 headings."""

    def __init__(self):
        super().__init__()
        self.catalog: dict[tuple[str, str | None], dict] = {}
        self.images: dict[str, str] = {}  # claim id -> img src
        self.headings: list[str] = []
        self._row = None
        self._claim_span = None
        self._figure_claim = None
        self._in_h2 = False
        self._in_catalog = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._in_catalog = attrs.get("class") == "catalog"
        elif tag == "tr" and self._in_catalog and "data-paper" in attrs:
            self._row = self.catalog.setdefault((attrs["data-paper"], attrs.get("data-impl")), {"verdicts": {}})
            self._row.update(profile=attrs.get("data-profile"), text="")
        elif tag == "span" and self._row is not None and "data-claim" in attrs:
            self._claim_span = attrs["data-claim"]
        elif tag == "figure":
            self._figure_claim = attrs.get("data-claim")
        elif tag == "img" and self._figure_claim:
            self.images[self._figure_claim] = attrs["src"]
        elif tag == "h2":
            self._in_h2 = True
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_catalog = False
        elif tag == "tr":
            self._row = None
        elif tag == "span":
            self._claim_span = None
        elif tag == "figure":
            self._figure_claim = None
        elif tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._row is not None:
            self._row["text"] += data
            if self._claim_span:
                self._row["verdicts"][self._claim_span] = data.split(": ", 1)[1]
        if self._in_h2:
            self.headings[-1] += data


def test_report_shows_each_implementations_verdicts_and_plots(tiny_papers, repro_home, tmp_path):
    index = make_report(tiny_papers, tmp_path / "report")
    assert index == tmp_path / "report" / "index.html" and index.is_file()
    page = index.read_text(encoding="utf-8")
    parser = ReportParser()
    parser.feed(page)

    reimpl, alice = parser.catalog[("tiny", "reimpl")], parser.catalog[("tiny", "alice")]
    assert reimpl["verdicts"] == {"a_score": "REPRODUCED", "b_score": "REPRODUCED"}
    assert alice["verdicts"] == {"a_score": "WORSE", "b_score": "REPRODUCED"}
    assert reimpl["profile"] == alice["profile"] == "full"
    assert "no runs" in parser.catalog[("escaping", None)]["text"]

    for claim in ("a_score", "b_score"):
        image = index.parent / parser.images[claim]
        assert image.is_file() and image.read_bytes().startswith(PNG_MAGIC)

    assert any(ESCAPED_TITLE in heading for heading in parser.headings)  # shown as text ...
    assert "Escaping &lt;b&gt;&amp; &quot;quotes&quot;" in page and "<b>" not in page  # ... never as markup
    assert 'class="verdict v-worse"' in page and "<script" not in page
    links = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert links and not [link for link in links if "://" in link or link.startswith("//")]  # all local

    record = Record.from_dict(json.loads(next((repro_home / "runs").glob("*-alice-*/run.json")).read_text()))
    assert plot_run(record, tmp_path / "run.png") == tmp_path / "run.png"
    assert (tmp_path / "run.png").read_bytes().startswith(PNG_MAGIC)


def test_report_shows_the_latest_comparison_of_each_pair(tiny_papers, repro_home, tmp_path):
    add_papers(tiny_papers)
    for _ in range(2):  # the second replaces the first in the report
        compared = run_repro("compare", "tiny", "--vs", "alice", "--seeds", "3")
        assert compared.returncode == 0, compared.stderr
    page = write_report(["tiny"], tmp_path / "report").read_text(encoding="utf-8")
    assert page.count("reimpl (A) vs alice (B), profile quick, 3 seeds") == 1
    assert "variant=a, score: reimpl is better than alice by 0.300" in page
    images = re.findall(r'<figure class="comparison"><img src="([^"]+)"', page)
    assert len(images) == 2  # one per claim's metric
    assert all((tmp_path / "report" / image).read_bytes().startswith(PNG_MAGIC) for image in images)


def test_plot_run_without_curves_writes_nothing(tmp_path):
    record = Record.from_dict({"run_id": "r1", "status": "crashed", "spec": {"setting_label": "default", "seed": 0},
                                "curves": {}})
    assert plot_run(record, tmp_path / "curves.png") is None
    assert not (tmp_path / "curves.png").exists()


def _record(batch: str, profile: str, started: str, impl: str = "reimpl", score: float = 1.0) -> Record:
    spec = {"paper": "tiny", "impl": impl, "profile": profile, "batch_id": batch, "setting_label": "variant=a",
            "seed": 0, "overrides": {}}
    return Record.from_dict({"run_id": f"{batch}-run", "status": "ok", "spec": spec, "metrics": {"score": score},
                             "curves": {}, "started": started})


def test_latest_batch_prefers_the_full_profile(tiny_papers):
    paper = load_paper("tiny")
    records = [
        _record("b1", "full", "2026-01-01T10:00:00+00:00", score=0.5),
        _record("b2", "full", "2026-01-02T10:00:00+00:00", score=1.0),
        _record("b3", "quick", "2026-01-03T10:00:00+00:00", score=3.0),
        _record("b4", "quick", "2026-01-01T10:00:00+00:00", impl="alice"),
        _record("b5", "quick", "2026-01-02T10:00:00+00:00", impl="alice", score=0.2),
    ]
    batches = latest_batches(paper, records)
    assert list(batches) == ["reimpl", "alice"]
    assert batches["reimpl"].batch_id == "b2" and batches["reimpl"].profile == "full"  # not the later quick b3
    assert batches["alice"].batch_id == "b5"  # no full batch: the latest
    assert [c.id for c in batches["reimpl"].claims] == ["a_score"]  # b_score's setting was not run
    assert [c.verdict for c in batches["alice"].results] == ["WORSE"]


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium(*args: str, user_dir: Path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={user_dir}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=60)


def test_report_renders_in_headless_chromium(tiny_papers, repro_home, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed")
    index = make_report(tiny_papers, tmp_path / "report")

    dom = chromium("--dump-dom", index.as_uri(), user_dir=tmp_path / "profile-1")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "A tiny paper for testing the harness" in dom.stdout
    assert "Escaping &lt;b&gt;&amp;" in dom.stdout
    assert "REPRODUCED" in dom.stdout and "WORSE" in dom.stdout
    assert dom.stdout.count("<img") == 2

    shot = tmp_path / "shot.png"
    result = chromium(f"--screenshot={shot}", "--window-size=1280,2000", index.as_uri(), user_dir=tmp_path / "profile-2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes().startswith(PNG_MAGIC) and shot.stat().st_size > 50_000
