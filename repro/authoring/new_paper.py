"""`repro new`: start a paper folder, papers/<id>/, in minutes.

    fetch_arxiv("2011.14439")            # title, authors, year, abstract (authoring/arxiv.py)
    new_paper("mnist1d", title=..., authors=[...], year=2020, arxiv="2011.14439", abstract=...)
    start_paper("2011.14439")            # both, as `repro new ARXIV_ID` does
    start_paper(title=..., authors="A, B", year=2024)   # offline, as `repro new --title ...`

The folder gets the four files every paper has (paper.yaml, reference.py, reimpl.py,
README.md), with what is known filled in and everything else marked TODO. paper.yaml is
written so that `repro show <id>` fails with exactly what is left to fill: the reference
repository and commit, the venue when it is not known, and the config, profiles and claims
sections, which are commented templates. The files' text is in templates/ (string.Template,
$name placeholders). Its comments follow one rule: a line starting
with "## " explains, a line starting with a single "# " is template YAML. Toggling the
comment of a template block in an editor therefore gives valid YAML whose explanations stay
comments (tests/authoring/test_new_paper.py checks that the uncommented templates validate).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
from datetime import date
from pathlib import Path

from repro.authoring.arxiv import ARXIV_API, collapse as _collapse, fetch_arxiv, normalize_arxiv_id
from repro.catalog.manifest import MANIFEST_NAME, NAME_RE, load_manifest
from repro.errors import ManifestError, PaperExists, UsageError
from repro.paths import papers_dir as catalog_dir

FILES = ("paper.yaml", "reference.py", "reimpl.py", "README.md")
TEMPLATES = Path(__file__).resolve().parent / "templates"

# The placeholders paper.yaml starts with: each fails validation until it is replaced.
TODO_REPO = "TODO-https://github.com/OWNER/REPO"
TODO_COMMIT = "TODO-full-40-hex-commit-sha"
# The manifest fields a new paper.yaml is expected to fail on, and nothing else.
TODO_FIELDS = ("reference.repo", "reference.commit", "config", "profiles", "claims")

_LEADING_WORDS = {"a", "an", "the", "on", "towards", "toward"}
_ID_WORDS = 3
_ID_MAX = 32


# ------------------------------------------------------------------ paper ids


def default_paper_id(title: str = "", arxiv: str | None = None) -> str:
    """A folder name from the title ('BERT: Pre-training ...' -> 'bert'; 'Scaling Down Deep
    Learning with MNIST-1D' -> 'scaling_down_deep'), else from the arXiv id ('arxiv_2011_14439')."""
    head, sep, _ = title.partition(":")
    words = _id_words(head) if sep and 1 <= len(_id_words(head)) <= 3 else _id_words(title)
    while len(words) > 1 and words[0] in _LEADING_WORDS:
        words = words[1:]
    candidate = ""
    for word in words[:_ID_WORDS]:
        longer = f"{candidate}_{word}" if candidate else word
        if len(longer) > _ID_MAX and candidate:
            break
        candidate = longer[:_ID_MAX]
    if candidate and not candidate[0].isalpha():
        candidate = f"paper_{candidate}"
    if not candidate and arxiv:
        candidate = "arxiv_" + re.sub(r"[^a-z0-9]+", "_", arxiv.lower()).strip("_")
    if not NAME_RE.fullmatch(candidate):
        raise UsageError("cannot make a paper id from the title; give one with --id (lower-case letters, digits, _)")
    return candidate


def _id_words(text: str) -> list[str]:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = (re.sub(r"[^a-z0-9]", "", token) for token in ascii_text.lower().split())
    return [word for word in words if word]


def check_paper_id(paper_id: str) -> str:
    if not isinstance(paper_id, str) or not NAME_RE.fullmatch(paper_id) or len(paper_id) > 64:
        raise UsageError(
            f"{paper_id!r} is not a paper id: lower-case letters, digits and underscores, starting "
            "with a letter (it is the folder name, e.g. mnist1d)"
        )
    return paper_id


def parse_authors(text: str | list[str]) -> list[str]:
    """'A, B and C' (or a list) -> ['A', 'B', 'C']."""
    parts = text if isinstance(text, list) else re.split(r"\s*[,;]\s*|\s+and\s+", str(text))
    return [" ".join(str(part).split()) for part in parts if str(part).strip()]


# ------------------------------------------------------------------ the folder


def new_paper(
    paper_id: str | None,
    *,
    title: str,
    authors: list[str] | str,
    year: int,
    venue: str = "",
    arxiv: str | None = None,
    abstract: str = "",
    papers_dir: Path | None = None,
    arxiv_record: dict | None = None,
) -> Path:
    """Write papers/<paper_id>/ (paper.yaml, reference.py, reimpl.py, README.md); return the folder.

    `paper_id` None derives one from the title (default_paper_id). `papers_dir` defaults to
    the catalog ($REPRO_PAPERS or papers/). `arxiv_record` (what fetch_arxiv returned) adds
    hints to the TODO comments. An existing folder is never touched (PaperExists). The
    folder appears whole or not at all, and its paper.yaml has been checked to fail only on
    the TODO fields (`remaining_problems` lists them).
    """
    title = _collapse(str(title or ""))
    authors = parse_authors(authors or [])
    if not title:
        raise UsageError("a new paper needs a title (--title)")
    if not authors:
        raise UsageError('a new paper needs its authors (--authors "A, B")')
    if isinstance(year, bool) or not isinstance(year, int) or not 1950 <= year <= 2100:
        raise UsageError(f"{year!r} is not a year (--year 2024)")
    if arxiv is not None:
        arxiv = normalize_arxiv_id(arxiv)
    venue = _collapse(venue or "")
    paper_id = check_paper_id(paper_id) if paper_id is not None else default_paper_id(title, arxiv)

    root = Path(papers_dir) if papers_dir is not None else catalog_dir()
    target = root / paper_id
    if target.exists() or target.is_symlink():
        raise PaperExists(
            f"{target} exists already; repro new never overwrites a paper folder. Choose another id "
            f"with --id, or edit the existing files (`repro show {paper_id}`)"
        )
    info = dict(
        id=paper_id, title=title, authors=authors, year=year, venue=venue, arxiv=arxiv,
        abstract=_collapse(abstract or ""), record=arxiv_record or {},
    )
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".new-{paper_id}-{os.getpid()}"
    folder = staging / paper_id
    try:
        folder.mkdir(parents=True)
        texts = {
            "paper.yaml": paper_yaml(info),
            "reference.py": reference_py(info),
            "reimpl.py": reimpl_py(info),
            "README.md": readme_md(info),
        }
        for name, text in texts.items():
            (folder / name).write_text(text, encoding="utf-8")
        _check_only_todos(folder / MANIFEST_NAME, expected=expected_todo_fields(venue))
        try:
            os.rename(folder, target)  # atomic; fails if a non-empty folder appeared meanwhile
        except OSError:
            if target.exists():
                raise PaperExists(f"{target} exists already; repro new never overwrites a paper folder") from None
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def start_paper(
    arxiv_id: str | None = None,
    *,
    paper_id: str | None = None,
    title: str | None = None,
    authors: str | list[str] | None = None,
    year: int | None = None,
    venue: str = "",
    papers_dir: Path | None = None,
    api_url: str = ARXIV_API,
    timeout: float = 15,
) -> Path:
    """What `repro new` does with its arguments.

    With an arXiv id, the metadata comes from arXiv, and --title/--authors/--year given too
    override it; given all three, nothing is fetched (the offline form keeps the arXiv id).
    Without one, title, authors and year are required. The paper id is checked first, so a
    bad --id never costs a request.
    """
    if paper_id is not None:
        check_paper_id(paper_id)
    if arxiv_id is None:
        missing = [flag for flag, value in (("--title", title), ("--authors", authors), ("--year", year)) if not value]
        if missing:
            raise UsageError(
                f"give an arXiv id (repro new 2011.14439), or the paper's metadata: missing {', '.join(missing)} "
                '(repro new --title "..." --authors "A, B" --year 2024)'
            )
        return new_paper(paper_id, title=title, authors=authors, year=year, venue=venue, papers_dir=papers_dir)

    arxiv_id = normalize_arxiv_id(arxiv_id)
    if title and authors and year:
        return new_paper(paper_id, title=title, authors=authors, year=year, venue=venue,
                         arxiv=re.sub(r"v\d+$", "", arxiv_id), papers_dir=papers_dir)
    record = fetch_arxiv(arxiv_id, api_url=api_url, timeout=timeout)
    return new_paper(
        paper_id,
        title=title or record["title"],
        authors=authors or record["authors"],
        year=year or record["year"],
        venue=venue or record["journal_ref"],
        arxiv=record["arxiv"],
        abstract=record["abstract"],
        papers_dir=papers_dir,
        arxiv_record=record,
    )


def expected_todo_fields(venue: str = "") -> set[str]:
    """The manifest fields a fresh paper.yaml fails on: the TODOs, and the venue when unknown."""
    return set(TODO_FIELDS) | (set() if venue else {"venue"})


def remaining_problems(folder: Path) -> list[str]:
    """What `repro show` would report for this folder's paper.yaml (empty when it is valid)."""
    try:
        load_manifest(Path(folder) / MANIFEST_NAME)
    except ManifestError as exc:
        return list(exc.problems)
    return []


def problem_fields(problems: list[str], path: Path) -> list[str]:
    """The field of each 'file: field: reason' problem of the manifest at `path`."""
    prefix = f"{path}: "
    return [p.removeprefix(prefix).split(": ", 1)[0] for p in problems]


def _check_only_todos(path: Path, expected: set[str]) -> None:
    problems = remaining_problems(path.parent)
    fields = set(problem_fields(problems, path))
    if fields != expected:
        raise RuntimeError(
            "repro new wrote a paper.yaml whose problems are not just the TODOs (a bug in repro.authoring.new_paper): "
            + "; ".join(problems)
        )


def describe_new(folder: Path) -> str:
    """The created files and the next steps, for `repro new` to print."""
    folder = Path(folder)
    paper_id = folder.name
    shown = _relative(folder)
    descriptions = {
        "paper.yaml": "the manifest: metadata filled in; reference, config, profiles and claims to fill",
        "reference.py": "the adapter that runs the authors' code (template, both styles)",
        "reimpl.py": "the lab's own re-implementation (template)",
        "README.md": "claims, protocol, running it, reproduction notes, results (template)",
    }
    lines = [f"created {shown}/"]
    lines += [f"  {name:<13} {descriptions[name]}" for name in FILES]
    problems = remaining_problems(folder)
    if problems:
        manifest = folder / MANIFEST_NAME
        lines += ["", f"left to fill in paper.yaml (what `repro show {paper_id}` reports until it is done):"]
        for field, problem in zip(problem_fields(problems, manifest), problems):
            reason = problem.removeprefix(f"{manifest}: ").split(": ", 1)[-1]
            lines.append(f"  {field}: {reason}")
    lines += [
        "",
        "next steps:",
        "  1. reference: the authors' repository and the full commit you reproduce (`git rev-parse HEAD` in a clone)",
        "  2. config, profiles, claims: uncomment the templates in paper.yaml and fill them from the paper",
        f"  3. repro show {paper_id}, until it lists no problem",
        f"  4. reference.py, then: repro fetch {paper_id} && repro run {paper_id} --impl reference",
        "  5. README.md: claims and why each tolerance, protocol, reproduction notes, results",
        "  guide: docs/adding-a-paper.md; worked example: papers/mnist1d/",
    ]
    return "\n".join(lines)


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# ----------------------------------------------------------------- templates
# The files are in templates/, in string.Template's $name syntax; these fill them.


def _q(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def _comment(text: str, limit: int = 70) -> str:
    """Text safe inside a one-line YAML or Python comment."""
    text = _collapse(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _byline(authors: list[str]) -> str:
    surnames = [name.split()[-1] for name in authors]
    if len(surnames) == 1:
        return surnames[0]
    if len(surnames) == 2:
        return f"{surnames[0]} & {surnames[1]}"
    return f"{surnames[0]} et al."


def _made_by(info: dict) -> str:
    record = info["record"]
    source = f" from arXiv:{info['arxiv']}{record.get('version', '')}" if record else ""
    return f"`repro new` on {date.today().isoformat()}{source}"


def _fill(name: str, **fields) -> str:
    from string import Template

    return Template((TEMPLATES / name).read_text(encoding="utf-8")).substitute(fields)


def paper_yaml(info: dict) -> str:
    record = info["record"]
    if record.get("published"):
        year_note = f"# TODO check: the year of the version you reproduce (arXiv v1: {record['published']})"
    else:
        year_note = "# TODO check: the year of the version you reproduce"
    if info["venue"]:
        venue_line = f"venue: {_q(info['venue'])}   # TODO check: e.g. \"ICML 2024\""
    else:
        hint = f" (arXiv comment: {_comment(record['comment'], 50)})" if record.get("comment") else ""
        venue_line = f'venue: ""   # TODO: where it was published, e.g. "ICML 2024", or "arXiv" for a preprint{hint}'
    arxiv_line = f"arxiv: {_q(info['arxiv'])}" if info["arxiv"] else '# arxiv: "2011.14439"   # the arXiv identifier, if any'
    return _fill("paper.yaml.tmpl", title_comment=_comment(info["title"]), made_by=_made_by(info), id=info["id"],
                 title_yaml=_q(info["title"]), authors_yaml=", ".join(_q(name) for name in info["authors"]),
                 year=info["year"], year_note=year_note, venue_line=venue_line, arxiv_line=arxiv_line,
                 todo_repo=_q(TODO_REPO), todo_commit=_q(TODO_COMMIT))


def reference_py(info: dict) -> str:
    return _fill("reference.py.tmpl", title_comment=_comment(info["title"], 60), id=info["id"])


def reimpl_py(info: dict) -> str:
    venue = info["venue"] or str(info["year"])
    return _fill("reimpl.py.tmpl", title_comment=_comment(info["title"], 70), byline=_byline(info["authors"]),
                 venue_comment=_comment(venue, 40), id=info["id"])


def readme_md(info: dict) -> str:
    record = info["record"]
    where = info["venue"] or str(info["year"])
    if info["abstract"]:
        paragraph = (
            f"{info['abstract']}\n\n"
            "TODO: this is the paper's abstract. Replace it with one paragraph of your own: what\n"
            "the paper shows, and what reproducing it here checks (papers/mnist1d/README.md)."
        )
    else:
        paragraph = (
            "TODO: one paragraph: what the paper shows, on which data, with which models, and\n"
            "what reproducing it here checks (papers/mnist1d/README.md is the model)."
        )
    if info["arxiv"]:
        version = f" ({record['version']} when this folder was made)" if record.get("version") else ""
        paragraph += f"\n\nPaper: [arXiv:{info['arxiv']}](https://arxiv.org/abs/{info['arxiv']}){version}."
    return _fill("README.md.tmpl", title=info["title"], byline=_byline(info["authors"]), where=where,
                 paragraph=paragraph, id=info["id"])
