"""The HTML report and the plots, on records of the tiny paper (no real training).

Two implementations run the tiny paper's full profile: reimpl (both claims REPRODUCED) and
a student, alice, whose score for variant a is too low (WORSE) and who logs a score curve.
A second paper, never run, has HTML special characters in its title.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
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


def _going(record: Record, batch: str, status: str = "running", planned: int | None = 2, **spec) -> Record:
    """A copy of a finished run as one of a later batch that is still going: started a minute
    after, its worker (this test's process) alive."""
    started = record.started.replace(record.started[14:16], f"{(int(record.started[14:16]) + 1) % 60:02d}", 1)
    return replace(record, run_id=f"{batch}-{record.run_id}", status=status, started=started, worker_pid=os.getpid(),
                   metrics={} if status == "running" else record.metrics, details={"harness_pid": os.getpid()},
                   spec=replace(record.spec, batch_id=batch, run_id=f"{batch}-{record.run_id}", batch_runs=planned, **spec))


def test_a_batch_still_going_is_shown_beside_the_finished_one_never_in_its_place(tiny_papers, repro_home, tmp_path):
    """Found by a new user: `repro report` during a run judged by the batch still going (NO
    RESULT, WORSE) and hid the finished one. Now the finished one judges, report and export
    alike, and the one going gets a line of its own."""
    from repro.records import list_records, save_record
    from repro.render.export import model_index

    assert run_repro("run", "tiny").returncode == 0  # quick: variant a and b, seed 0
    finished = list_records("tiny")
    first, second = finished
    save_record(_going(first, "b-later"))  # 1 of 2 planned runs started, still running, with a low score
    save_record(_going(second, "b-later", status="ok"))
    page = write_report(["tiny"], tmp_path / "report").read_text(encoding="utf-8")
    parser = ReportParser()
    parser.feed(page)
    assert parser.catalog[("tiny", "reimpl")]["verdicts"] == {"a_score": "REPRODUCED", "b_score": "REPRODUCED"}
    assert "in progress: batch b-later (quick), 1 of 2 runs done" in page
    assert page.count('class="note in-progress"') == 1 and ": NO RESULT</span>" not in page
    (entry, _) = model_index(load_paper("tiny"), list_records("tiny"))["model-index"]
    assert entry["results"][0]["metrics"][0]["value"] == first.metrics["score"]  # not the batch going

    # the later batch ends: every planned run has a record and none is running; it judges now
    save_record(_going(first, "b-later", status="ok"))
    page = write_report(["tiny"], tmp_path / "report").read_text(encoding="utf-8")
    assert "in progress" not in page and "batch b-later" in page


def test_a_batch_whose_harness_is_gone_is_finished_with_the_runs_it_started(tiny_papers, repro_home):
    """Ctrl-C before the rest started: fewer records than planned, none running, the harness
    gone: finished (and judged), not in progress forever."""
    from repro.records import batch_finished, batch_in_progress, list_records

    assert run_repro("run", "tiny", "--claims", "a_score").returncode == 0
    (record,) = list_records("tiny")
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stopped = _going(record, "b-stopped", status="interrupted")
    alive = _going(record, "b-alive", status="ok")
    stopped = replace(stopped, details={"harness_pid": int(ended.stdout)})
    assert batch_finished([stopped]) and not batch_finished([alive])  # 1 of 2 planned, harness alive: going
    assert batch_finished([replace(alive, spec=replace(alive.spec, batch_runs=None))])  # an older record: as it is
    assert batch_in_progress([record, stopped, alive]) == [alive]


def test_a_claim_without_runs_gets_a_line_and_the_command_not_an_empty_chart(tiny_papers, repro_home, tmp_path):
    assert run_repro("run", "tiny", "--claims", "a_score").returncode == 0
    page = write_report(["tiny"], tmp_path / "report").read_text(encoding="utf-8")
    parser = ReportParser()
    parser.feed(page)
    assert set(parser.images) == {"a_score"}  # b_score: no figure at all
    line = re.search(r'<p class="note no-runs" data-claim="b_score">(.*?)</p>', page).group(1)
    assert "no finished run of this setting" in line and "<code>repro run tiny --claims b_score</code>" in line


def test_the_top_says_how_many_claims_reproduce_when_and_where(tiny_papers, repro_home, tmp_path):
    import socket

    index = make_report(tiny_papers, tmp_path / "report")
    page = index.read_text(encoding="utf-8")
    top = page.split('<section id="paper-', 1)[0]
    assert "<strong>reimpl</strong>: 2 of 2 claims reproduce; <strong>alice</strong>: 1 of 2 claims reproduce" in top
    assert re.findall(r'<td class="num reproduced">([^<]*)</td>', top) == ["2 of 2", "1 of 2"]
    assert socket.gethostname() in top and "numbers from" in top
    # both implementations side by side in one claim's chart, each seed a point
    caption = re.search(r'data-claim="a_score"><img [^>]*><figcaption>(.*?)</figcaption>', page).group(1)
    assert "reimpl (full, 2 seeds), alice (full, 2 seeds)" in caption


def test_report_of_a_real_quick_run_in_a_browser(repro_home, shared_data, chromium_path, tmp_path):
    """MNIST-1D's quick runs (two claims of the re-implementation, one of a variant), the report
    opened in headless Chromium as a reader would: at a desktop's and a phone's width, the
    verdict table's text, every chart loaded, no console errors, no page wider than the screen."""
    from playwright.sync_api import sync_playwright

    ran = run_repro("run", "mnist1d", "--claims", "logistic_test_acc,mlp_test_acc")
    assert ran.returncode in (0, 1), ran.stderr
    assert run_repro("run", "mnist1d", "--impl", "cnn_pool", "--claims", "logistic_test_acc").returncode in (0, 1)
    index = write_report(["mnist1d"], tmp_path / "report")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            for width, height in ((1280, 900), (390, 844)):  # a laptop, a phone
                page = browser.new_page(viewport={"width": width, "height": height})
                errors = []
                page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(index.as_uri())
                page.wait_for_load_state("load")
                shot = tmp_path / f"report-{width}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.read_bytes().startswith(PNG_MAGIC) and shot.stat().st_size > 20_000

                assert errors == [], errors
                widths = page.evaluate("[...document.images].map(image => image.naturalWidth)")
                assert len(widths) == 2 and all(w > 0 for w in widths), widths  # two claims ran, both charts drawn
                assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
                table = page.locator('table.verdicts[data-impl="reimpl"]').inner_text()
                assert "logistic_test_acc" in table and "mlp_test_acc" in table and "cnn_test_acc" not in table
                assert any(v in table for v in ("REPRODUCED", "INCONCLUSIVE", "WORSE", "BETTER"))
                summary = page.locator("table.catalog").inner_text()
                assert "reimpl" in summary and "cnn_pool" in summary and "of 4" in summary
                lines = page.locator("p.no-runs").all_inner_texts()
                assert len(lines) == 2 and all("repro run mnist1d --claims" in line for line in lines)
                font = page.evaluate("parseFloat(getComputedStyle(document.querySelector('table.verdicts td')).fontSize)")
                assert font >= 11  # readable without zooming
                page.close()
        finally:
            browser.close()
