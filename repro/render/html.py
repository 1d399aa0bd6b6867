"""A static HTML report of the recorded runs: index.html and its PNG plots in one folder.

The page needs no server, no JavaScript and nothing from the network (no external URLs,
fonts or scripts), so it can be opened from disk, attached to an issue or published as a
CI artifact. Every text that comes from a manifest or a record is HTML-escaped.

What it shows, per paper and implementation, is the batch of runs that judges it (one `repro
run`, records.judging_batch: the latest finished batch of the paper's protocol, else of any
profile), and the table names the profile. A batch still going is shown beside it ("in
progress: 1 of 4 runs done"), never in its place. The top says what a reader asks first: how
many claims reproduce, per paper and implementation, when and on which machine.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from repro import __version__
from repro.compare import ClaimResult, compare_claims
from repro.errors import ManifestError
from repro.catalog import Claim, Paper, load_paper, paper_ids as catalog_ids
from repro.records import Record, batch_in_progress, batch_started, judging_batch, list_records
from repro.render.text import delta_text, measured_text, verdict_notes


VERDICT_CLASSES = {
    "REPRODUCED": "v-reproduced",
    "BETTER": "v-better",
    "WORSE": "v-worse",
    "INCONCLUSIVE": "v-inconclusive",
    "NO RESULT": "v-noresult",
}

VERDICT_MEANINGS = [
    ("REPRODUCED", "the mean lies within the tolerance of the reported value"),
    ("BETTER", "outside the tolerance, better, and so is the whole 95% interval (with one seed: the mean alone)"),
    ("WORSE", "outside the tolerance, worse, and so is the whole 95% interval (with one seed: the mean alone)"),
    ("INCONCLUSIVE", "the mean is outside, but its 95% t-interval still reaches the tolerance band: run more seeds"),
    ("NO RESULT", "no run of that claim's setting finished"),
]

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1150px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 2px solid #ddd; padding-bottom: 0.2em; }
h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.verdict { font-weight: 600; white-space: nowrap; }
.v-reproduced { background: #d4edda; color: #155724; }
.v-better { background: #cce5ff; color: #004085; }
.v-worse { background: #f8d7da; color: #721c24; }
.v-inconclusive { background: #fff3cd; color: #856404; }
.v-noresult { background: #e2e3e5; color: #383d41; }
span.verdict { display: inline-block; padding: 0.05em 0.4em; margin: 0.1em 0; border-radius: 3px; }
.meta, .note, .muted { color: #555; } .note { font-size: 0.9em; margin: 0.2em 0; }
code { font-size: 0.95em; background: #f6f6f6; padding: 0 0.2em; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0.4em 0 1em 0; flex: 1 1 520px; max-width: 700px; }
figcaption { color: #555; font-size: 0.88em; }
img { width: 100%; height: auto; border: 1px solid #eee; }
.nowrap { white-space: nowrap; }
footer { margin-top: 3em; color: #777; font-size: 0.85em; }
.headline { font-size: 1.1em; }
.table-wrap { overflow-x: auto; }
@media (max-width: 700px) { body { margin: 1em auto; } table { font-size: 0.85em; } figure { flex-basis: 100%; } }
"""


@dataclass
class Batch:
    """One implementation's runs of one `repro run`, and the verdicts they give."""

    impl: str
    batch_id: str
    profile: str
    started: str  # the latest start among its runs
    records: list[Record]
    claims: list[Claim]  # the claims whose setting the batch ran
    results: list[ClaimResult]


@dataclass
class PaperView:
    """What the report shows of one paper: its judged batches and those still going."""

    paper_id: str
    paper: Paper | None  # None where the manifest does not load
    error: str | None
    batches: dict[str, Batch]
    in_progress: dict[str, "InProgress"]


@dataclass
class InProgress:
    """An implementation's batch that has not finished: shown beside the judged one."""

    impl: str
    batch_id: str
    profile: str
    started: str
    done: int  # runs ended
    planned: int  # runs the batch planned (or recorded so far, for a batch of an older version)


def batches_in_progress(records: list[Record]) -> dict[str, InProgress]:
    """Per implementation, its latest batch that is still going (records.batch_in_progress)."""
    by_impl: dict[str, list[Record]] = {}
    for record in records:
        by_impl.setdefault(record.impl, []).append(record)
    going = {}
    for impl, own in by_impl.items():
        runs = batch_in_progress(own)
        if runs:
            spec = runs[0].spec
            done = sum(r.status not in ("queued", "running") for r in runs)
            going[impl] = InProgress(impl, str(spec.batch_id), str(spec.profile), min(str(r.started or "") for r in runs),
                                     done, max(spec.batch_runs or 0, len(runs)))
    return going


def latest_batches(paper: Paper, records: list[Record]) -> dict[str, Batch]:
    """The batch each implementation is judged by (records.judging_batch), with its verdicts.

    The claims a batch covered are those whose setting it ran (records do not keep the
    --claims list; a claim that shares a run setting was measured by those runs anyway).
    """
    by_impl: dict[str, list[dict]] = {}
    for record in records:
        by_impl.setdefault(record.impl, []).append(record)
    batches = {}
    for impl, own in by_impl.items():
        runs = judging_batch(paper, own)
        if not runs:
            continue
        labels = {r.setting for r in runs}
        claims = [claim for claim in paper.claims if claim.setting_label in labels]
        batches[impl] = Batch(
            impl=impl,
            batch_id=runs[0].spec.batch_id,
            profile=runs[0].spec.profile,
            started=batch_started(runs),
            records=runs,
            claims=claims,
            results=compare_claims(claims, runs),
        )
    return dict(sorted(batches.items(), key=lambda item: _impl_order(item[0])))


def write_report(paper_ids: list[str] | None, out_dir: Path) -> Path:
    """Write out_dir/index.html and its PNG plots from the runs recorded under $REPRO_HOME.

    `paper_ids` None means every paper of the catalog; an unknown id raises UsageError.
    Returns the path of index.html.
    """
    from repro.render.plots import plot_claim

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    explicit = paper_ids is not None
    ids = list(paper_ids) if explicit else catalog_ids()

    records_by_paper: dict[str, list[Record]] = {}
    for record in list_records():  # read once, not once per paper
        records_by_paper.setdefault(record.spec.paper, []).append(record)

    papers: list[PaperView] = []
    for paper_id in ids:
        try:
            paper = load_paper(paper_id)
        except ManifestError as exc:
            if explicit:
                raise
            papers.append(PaperView(paper_id, None, f"{len(exc.problems)} problem(s) in its manifest", {}, {}))
            continue
        own = records_by_paper.get(paper_id, [])
        papers.append(PaperView(paper_id, paper, None, latest_batches(paper, own), batches_in_progress(own)))

    generated = _when(datetime.now(timezone.utc).isoformat())
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>repro report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>repro report</h1>",
        f'<p class="meta">generated {_e(generated)} by repro {_e(__version__)}; '
        "each implementation is judged by its latest finished batch of runs (of the paper's protocol "
        "when there is one); a batch still going is shown beside it.</p>",
        "<h2>Summary</h2>",
        _headline(papers),
        _summary_table(papers),
        _verdict_legend(),
    ]
    for view in papers:
        if view.paper is not None:
            parts.append(_paper_section(view, out_dir, plot_claim))
    parts.append(f"<footer>generated {_e(generated)} by repro {_e(__version__)}</footer>")
    parts.append("</body></html>")

    index = out_dir / "index.html"
    tmp = out_dir / ".index.html.tmp"
    tmp.write_text("\n".join(parts) + "\n", encoding="utf-8")
    tmp.replace(index)
    return index


# --------------------------------------------------------------------------- parts


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _when(iso: str) -> str:
    """'2026-11-27T15:07:02+00:00' -> '2026-11-27 15:07:02 UTC' (the text as it is if unparsable)."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso or "?"
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if moment.tzinfo is not None else "")


def _impl_order(name: str) -> tuple:
    return ({"reference": 0, "reimpl": 1}.get(name, 2), name)


def _profile_text(paper: Paper, batch: Batch) -> str:
    profile = paper.profiles.get(batch.profile)
    if profile is None:
        return f"{batch.profile} (no longer in the manifest)"
    return batch.profile if profile.paper_protocol else f"{batch.profile} (not the paper's protocol)"


def _verdict_span(verdict: str, claim_id: str | None = None) -> str:
    label = f"{claim_id}: {verdict}" if claim_id else verdict
    attr = f' data-claim="{_e(claim_id)}"' if claim_id else ""
    return f'<span class="verdict {VERDICT_CLASSES[verdict]}"{attr}>{_e(label)}</span>'


def _run_counts(records: list[Record]) -> str:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in counts.items())


def _machine(records: list[Record]) -> str:
    """Where a batch's numbers were made: host, CPU, its kernels' ISA, and the GPU if one."""
    environment = next((r.environment for r in records if r.environment), None) or {}
    numerics = environment.get("numerics") or {}
    if not numerics and not environment:
        return "machine not recorded"
    parts = [str((numerics.get("cpu") or {}).get("model") or environment.get("cpu") or "?"),
             str(numerics.get("cpu_capability") or "")]
    gpu = numerics.get("gpu")
    if gpu:
        parts.append(str(gpu.get("name")))
    host = environment.get("hostname")
    return (f"{host}: " if host else "") + ", ".join(part for part in parts if part)


def _reproduced(batch: Batch) -> int:
    return sum(result.verdict == "REPRODUCED" for result in batch.results)


def _headline(papers: list[PaperView]) -> str:
    """One sentence per implementation across the catalog: how many claims reproduce."""
    totals: dict[str, list[int]] = {}
    for view in papers:
        for impl, batch in view.batches.items():
            counts = totals.setdefault(impl, [0, 0])
            counts[0] += _reproduced(batch)
            counts[1] += len(view.paper.claims)
    if not totals:
        return '<p class="headline">No finished runs yet: <code>repro run PAPER</code> makes some.</p>'
    said = "; ".join(f"<strong>{_e(impl)}</strong>: {done} of {total} claims reproduce"
                     for impl, (done, total) in sorted(totals.items(), key=lambda item: _impl_order(item[0])))
    return f'<p class="headline">{said} (in the batches that judge them, over the papers that have any).</p>'


def _progress_text(going: InProgress) -> str:
    return (f"in progress: batch {going.batch_id} ({going.profile}), {going.done} of {going.planned} runs done, "
            f"started {_when(going.started)}")


def _summary_table(papers: list[PaperView]) -> str:
    rows = []
    for view in papers:
        paper_id, paper = view.paper_id, view.paper
        anchor = f'<a href="#paper-{_e(paper_id)}">{_e(paper_id)}</a>' if paper is not None else _e(paper_id)
        if view.error is not None:
            rows.append(f'<tr data-paper="{_e(paper_id)}"><td>{anchor}</td><td colspan="5" class="muted">'
                        f"{_e(view.error)} (<code>repro show {_e(paper_id)}</code>)</td></tr>")
            continue
        impls = list(view.batches) + [impl for impl in view.in_progress if impl not in view.batches]
        if not impls:
            rows.append(f'<tr data-paper="{_e(paper_id)}"><td>{anchor}</td><td colspan="5" class="muted">no runs '
                        f"(<code>repro run {_e(paper_id)}</code>)</td></tr>")
        for impl in impls:
            batch, going = view.batches.get(impl), view.in_progress.get(impl)
            progress = f'<br><span class="muted in-progress">{_e(_progress_text(going))}</span>' if going else ""
            if batch is None:
                rows.append(f'<tr data-paper="{_e(paper_id)}" data-impl="{_e(impl)}"><td>{anchor}</td><td>{_e(impl)}</td>'
                            f'<td colspan="4" class="muted">no finished batch yet{progress}</td></tr>')
                continue
            verdicts = " ".join(_verdict_span(c.verdict, c.claim_id) for c in batch.results) or "-"
            count = f"{_reproduced(batch)} of {len(paper.claims)}"
            if len(batch.claims) < len(paper.claims):
                verdicts += f' <span class="muted">({len(batch.claims)} of {len(paper.claims)} claims run)</span>'
            rows.append(
                f'<tr data-paper="{_e(paper_id)}" data-impl="{_e(impl)}" data-profile="{_e(batch.profile)}">'
                f"<td>{anchor}</td><td>{_e(impl)}</td>"
                f'<td class="num reproduced">{_e(count)}</td>'
                f"<td>{_e(_profile_text(paper, batch))}</td>"
                f'<td><span class="nowrap">{_e(_when(batch.started))}</span><br>'
                f'<span class="muted">{_e(_machine(batch.records))}; {_e(_run_counts(batch.records))}</span>{progress}</td>'
                f"<td>{verdicts}</td></tr>"
            )
    head = ("<tr><th>paper</th><th>implementation</th><th>claims reproduced</th><th>profile</th>"
            "<th>numbers from</th><th>verdicts</th></tr>")
    return f'<div class="table-wrap"><table class="catalog">\n{head}\n' + "\n".join(rows) + "\n</table></div>"


def _verdict_legend() -> str:
    rows = "".join(f"<tr><td>{_verdict_span(v)}</td><td>{_e(meaning)}</td></tr>" for v, meaning in VERDICT_MEANINGS)
    return f'<div class="table-wrap"><table class="legend"><tr><th>verdict</th><th>meaning</th></tr>{rows}</table></div>'


def _paper_section(view: PaperView, out_dir: Path, plot_claim) -> str:
    paper, batches = view.paper, view.batches
    year = "" if str(paper.year) in paper.venue else f" ({paper.year})"
    arxiv = f", arXiv:{paper.arxiv}" if paper.arxiv else ""
    parts = [
        f'<section id="paper-{_e(paper.id)}">',
        f'<h2 class="paper-title">{_e(paper.title)} <span class="muted">({_e(paper.id)})</span></h2>',
        f'<p class="meta">{_e(", ".join(paper.authors))} — {_e(paper.venue)}{_e(year)}{_e(arxiv)}<br>',
        f"reference: <code>{_e(paper.reference.repo)}</code> @ <code>{_e(paper.reference.commit)}</code></p>",
    ]
    parts += [f'<p class="note in-progress" data-impl="{_e(impl)}">{_e(impl)}: {_e(_progress_text(going))}; the '
              "numbers below are from its last finished batch</p>" for impl, going in view.in_progress.items()]
    if not batches:
        parts.append(f'<p class="muted">no finished runs recorded (<code>repro run {_e(paper.id)}</code>)</p>')
        parts.append(_comparisons(paper, out_dir) + "</section>")
        return "\n".join(parts)
    for impl, batch in batches.items():
        parts.append(_batch_table(paper, batch))

    parts.append("<h3>Claims against the runs</h3>")
    parts.append('<div class="plots">')
    without = []
    for claim in paper.claims:
        runs = {impl: [r for r in b.records if r.setting == claim.setting_label and r.ok
                       and isinstance(r.metrics.get(claim.metric), (int, float))]
                for impl, b in batches.items()}
        runs = {impl: records for impl, records in runs.items() if records}
        if not runs:
            without.append(claim)
            continue
        caption = (f"{claim.id}: {claim.description or claim.metric} — reported {claim.reported:g} "
                   f"{claim.tolerance.describe()} ({claim.source}); setting {claim.setting_label}")
        image = plot_claim(claim, runs, out_dir / f"{paper.id}--{claim.id}.png")
        shown = ", ".join(f"{impl} ({batches[impl].profile}, {len(records)} seed{'s' if len(records) != 1 else ''})"
                          for impl, records in runs.items())
        parts.append(
            f'<figure class="claim-plot" data-claim="{_e(claim.id)}">'
            f'<img src="{_e(image.name)}" alt="{_e(claim.id)}: each seed\'s final {_e(claim.metric)} by implementation">'
            f"<figcaption>{_e(caption)}. Each point a seed's final value: {_e(shown)}.</figcaption></figure>"
        )
    parts.append("</div>")
    for claim in without:
        parts.append(f'<p class="note no-runs" data-claim="{_e(claim.id)}">{_e(claim.id)} ({_e(claim.setting_label)}): '
                     "no finished run of this setting in any implementation's judged batch; "
                     f"<code>repro run {_e(paper.id)} --claims {_e(claim.id)}</code> runs it</p>")
    parts.append(_comparisons(paper, out_dir) + "</section>")
    return "\n".join(parts)


def _comparisons(paper: Paper, out_dir: Path) -> str:
    """The latest `repro compare` of each pair of implementations: per claim's metric, both
    sides' seeds as points and the sentence that says what they show."""
    from repro.render.plots import plot_comparison
    from repro.versus import saved_comparisons

    saved = saved_comparisons(paper.id)
    if not saved:
        return ""
    parts = ["<h3>Comparisons (<code>repro compare</code>)</h3>"]
    for index, comparison in enumerate(saved):
        a, b = comparison["impl_a"], comparison["impl_b"]
        changed = "".join(f", --set {k}={v}" for k, v in (comparison.get("overrides") or {}).items())
        parts.append(f'<p class="meta">{_e(a)} (A) vs {_e(b)} (B), profile {_e(comparison["profile"])}{_e(changed)}, '
                     f'{len(comparison["seeds"])} seeds, {_e(_when(comparison["created"]))}</p>')
        parts.append('<div class="plots">')
        for number, row in enumerate(r for r in comparison["rows"] if r["primary"]):
            caption = f'{row["setting"]}, {row["metric"]}: {row["sentence"]}.'
            if row["difference"] is None:
                parts.append(f'<figure class="comparison"><figcaption>{_e(caption)}</figcaption></figure>')
                continue
            image = plot_comparison(row, a, b, out_dir / f"{paper.id}--compare-{index}-{number}.png")
            parts.append(f'<figure class="comparison"><img src="{_e(image.name)}" alt="{_e(a)} vs {_e(b)}: '
                         f'{_e(row["metric"])} by seed"><figcaption>{_e(caption)}</figcaption></figure>')
        parts.append("</div>")
    return "\n".join(parts)


def _batch_table(paper: Paper, batch: Batch) -> str:
    overrides = batch.records[0].spec.overrides or {}
    changed = "".join(f", --set {key}={value}" for key, value in overrides.items())
    parts = [
        f'<h3>Implementation {_e(batch.impl)} — profile {_e(batch.profile)}{_e(changed)}</h3>',
        f'<p class="meta">batch {_e(batch.batch_id)}, started {_e(_when(batch.started))}; runs: '
        f"{_e(_run_counts(batch.records))}</p>",
    ]
    rows = []
    for c in batch.results:
        reported = f"{c.reported:g}" + (f" ± {c.reported_sd:g}" if c.reported_sd is not None else "")
        delta = delta_text(c)
        rows.append(
            f"<tr><td>{_e(c.claim_id)}</td><td>{_e(c.source)}</td><td class=\"num\">{_e(reported)}</td>"
            f"<td class=\"num\">{_e(measured_text(c))}</td><td class=\"num\">{_e(delta)}</td>"
            f"<td class=\"num\">{_e(c.tolerance)}</td>"
            f'<td class="verdict {VERDICT_CLASSES[c.verdict]}">{_e(c.verdict)}</td></tr>'
        )
    head = ("<tr><th>claim</th><th>where in the paper</th><th>reported</th><th>measured</th><th>delta</th>"
            "<th>tolerance</th><th>verdict</th></tr>")
    parts.append(f'<div class="table-wrap"><table class="verdicts" data-impl="{_e(batch.impl)}">\n{head}\n'
                 + "\n".join(rows) + "\n</table></div>")

    notes = verdict_notes(paper, batch.profile, overrides, batch.results, batch.records)
    missing = [claim.id for claim in paper.claims if claim not in batch.claims]
    if missing:
        notes.append(f"this batch did not run {', '.join(missing)}; older batches may have "
                     f"(`repro runs {paper.id}` lists them).")
    for record in batch.records:
        if record.status != "ok":
            spec = record.spec
            notes.append(f"run {record.run_id} ({spec.setting_label}, seed {spec.seed}) {record.status}: "
                         f"{record.error}; full log: {record.log_path}")
    parts += [f'<p class="note">note: {_e(note)}</p>' for note in notes]
    return "\n".join(parts)
