"""`repro new`: start a paper folder, papers/<id>/, in minutes.

    fetch_arxiv("2011.14439")            # title, authors, year, abstract from the arXiv API
    new_paper("mnist1d", title=..., authors=[...], year=2020, arxiv="2011.14439", abstract=...)
    start_paper("2011.14439")            # both, as `repro new ARXIV_ID` does
    start_paper(title=..., authors="A, B", year=2024)   # offline, as `repro new --title ...`

The folder gets the four files every paper has (paper.yaml, reference.py, reimpl.py,
README.md), with what is known filled in and everything else marked TODO. paper.yaml is
written so that `repro show <id>` fails with exactly what is left to fill: the reference
repository and commit, the venue when it is not known, and the config, profiles and claims
sections, which are commented templates. Its comments follow one rule: a line starting
with "## " explains, a line starting with a single "# " is template YAML. Toggling the
comment of a template block in an editor therefore gives valid YAML whose explanations stay
comments (tests/test_new_paper.py checks that the uncommented templates validate).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
from datetime import date
from pathlib import Path

from repro.errors import ManifestError, ReproError, UsageError
from repro.manifest import ARXIV_RE, MANIFEST_NAME, NAME_RE, load_manifest, papers_dir as catalog_dir

ARXIV_API = "https://export.arxiv.org/api/query"
ARXIV_API_ENV = "REPRO_ARXIV_API"
ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV_NS = "{http://arxiv.org/schemas/atom}"
FILES = ("paper.yaml", "reference.py", "reimpl.py", "README.md")

# The placeholders paper.yaml starts with: each fails validation until it is replaced.
TODO_REPO = "TODO-https://github.com/OWNER/REPO"
TODO_COMMIT = "TODO-full-40-hex-commit-sha"
# The manifest fields a new paper.yaml is expected to fail on, and nothing else.
TODO_FIELDS = ("reference.repo", "reference.commit", "config", "profiles", "claims")

_LEADING_WORDS = {"a", "an", "the", "on", "towards", "toward"}
_ID_WORDS = 3
_ID_MAX = 32


class ArxivError(ReproError):
    """arXiv answered, but not with the paper: unknown id, an error entry, a malformed feed."""


class ArxivUnreachable(ArxivError):
    """arXiv could not be reached (network, timeout, server error); the message gives the offline form."""


class PaperExists(UsageError):
    """papers/<id>/ exists already: `repro new` never overwrites."""


# ----------------------------------------------------------------------- arXiv


def normalize_arxiv_id(text: str) -> str:
    """'arXiv:2011.14439v2', 'https://arxiv.org/abs/2011.14439' or '2011.14439' -> '2011.14439[v2]'.

    Raises UsageError for anything that is not an arXiv identifier, before any request.
    """
    value = str(text).strip()
    value = re.sub(r"(?i)^(https?://)?(www\.|export\.)?arxiv\.org/(abs|pdf)/", "", value)
    value = re.sub(r"(?i)^arxiv:", "", value)
    value = re.sub(r"(?i)\.pdf$", "", value).rstrip("/")
    if not ARXIV_RE.fullmatch(value):
        raise UsageError(
            f"{text!r} is not an arXiv identifier (e.g. 2011.14439, 2011.14439v2 or hep-th/9901001); "
            'without one: repro new --id <id> --title "..." --authors "A, B" --year 2024'
        )
    return value


def fetch_arxiv(arxiv_id: str, *, api_url: str = ARXIV_API, timeout: float = 15) -> dict:
    """Ask the arXiv API for one paper's metadata.

    Returns {"arxiv": "2011.14439" (no version), "version": "v4", "title", "authors": [...],
    "year": 2020, "published": "2020-11-29", "abstract", "journal_ref", "comment", "doi",
    "url"}. $REPRO_ARXIV_API overrides `api_url`. Raises UsageError for a malformed id (no
    request is made), ArxivUnreachable when arXiv cannot be reached or fails, ArxivError
    when it does not know the id.
    """
    import requests

    from repro import __version__

    wanted = normalize_arxiv_id(arxiv_id)
    url = os.environ.get(ARXIV_API_ENV) or api_url
    try:
        response = requests.get(
            url,
            params={"id_list": wanted, "max_results": 1},
            timeout=timeout,
            headers={"User-Agent": f"repro/{__version__} (paper scaffolding; python-requests)"},
        )
    except requests.RequestException as exc:
        raise ArxivUnreachable(_unreachable(wanted, url, _short_reason(exc))) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise ArxivUnreachable(_unreachable(wanted, url, f"it answered HTTP {response.status_code}"))

    root = _parse_feed(response.content, wanted, url, response.status_code)
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        if "/api/errors" in _text(entry, f"{ATOM}id"):
            reason = _collapse(_text(entry, f"{ATOM}summary")) or "an error entry"
            raise ArxivError(f"arXiv refused id {wanted!r}: {reason}")
    if response.status_code != 200:
        raise ArxivError(f"arXiv answered HTTP {response.status_code} for id {wanted!r} ({url})")
    entries = [e for e in entries if _text(e, f"{ATOM}title").strip()]
    if not entries:
        raise ArxivError(
            f"arXiv has no paper {wanted!r}: check the identifier on https://arxiv.org/abs/{wanted}"
        )
    return _entry_record(entries[0], wanted)


def _parse_feed(content: bytes, wanted: str, url: str, status: int):
    from xml.etree import ElementTree

    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as exc:
        if status != 200:
            raise ArxivUnreachable(_unreachable(wanted, url, f"it answered HTTP {status}")) from None
        raise ArxivError(f"arXiv's answer for {wanted!r} is not an Atom feed ({exc}); from {url}") from None
    if root.tag != f"{ATOM}feed":
        raise ArxivError(f"arXiv's answer for {wanted!r} is not an Atom feed (root <{root.tag}>); from {url}")
    return root


def _entry_record(entry, wanted: str) -> dict:
    entry_id = _text(entry, f"{ATOM}id").strip()
    match = re.search(r"arxiv\.org/abs/(.+?)(v\d+)?$", entry_id)
    if not match:
        raise ArxivError(f"arXiv answered an entry for {wanted!r} with an unexpected id {entry_id!r}")
    canonical, version = match.group(1), match.group(2) or ""
    if canonical != re.sub(r"v\d+$", "", wanted):
        raise ArxivError(f"arXiv answered another paper ({canonical}) for {wanted!r}")
    published = _text(entry, f"{ATOM}published").strip()
    if not re.match(r"\d{4}-\d{2}-\d{2}", published):
        raise ArxivError(f"arXiv's entry for {wanted!r} has no <published> date ({published!r})")
    authors = [_collapse(_text(a, f"{ATOM}name")) for a in entry.findall(f"{ATOM}author")]
    return {
        "arxiv": canonical,
        "version": version,
        "title": _collapse(_text(entry, f"{ATOM}title")),
        "authors": [name for name in authors if name],
        "year": int(published[:4]),
        "published": published[:10],
        "abstract": _collapse(_text(entry, f"{ATOM}summary")),
        "journal_ref": _collapse(_text(entry, f"{ARXIV_NS}journal_ref")),
        "comment": _collapse(_text(entry, f"{ARXIV_NS}comment")),
        "doi": _collapse(_text(entry, f"{ARXIV_NS}doi")),
        "url": f"https://arxiv.org/abs/{canonical}",
    }


def _text(element, tag: str) -> str:
    found = element.find(tag)
    return "".join(found.itertext()) if found is not None else ""


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _short_reason(exc: Exception) -> str:
    """'connection refused', 'no answer in 15 s', ... from requests' nested exception text."""
    import requests

    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    text = str(exc)
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno:
        return errno.group(1).strip()
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return type(exc).__name__


def _unreachable(arxiv_id: str, url: str, reason: str) -> str:
    return (
        f"could not reach arXiv at {url} ({reason}). Give the paper's metadata yourself, "
        f"nothing is fetched then:\n"
        f'  repro new {arxiv_id} --id <id> --title "..." --authors "A, B" --year 2024\n'
        f'  repro new --id <id> --title "..." --authors "A, B" --year 2024   (without the arXiv id)'
    )


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
            "repro new wrote a paper.yaml whose problems are not just the TODOs (a bug in repro.scaffold): "
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
    return f"""\
# yaml-language-server: $schema=../paper.schema.json
## paper.yaml for {_comment(info['title'])}
## Made by {_made_by(info)}.
## Fill every TODO, then run `repro show {info['id']}` until it lists no problem.
## Guide: docs/adding-a-paper.md, "1. The manifest". Complete example: papers/mnist1d/paper.yaml.
## Every field and its type: `repro schema` (papers/paper.schema.json).
## Lines starting with "## " explain. Lines starting with a single "# " are templates:
## uncomment them (an editor's toggle-comment keeps the "## " lines as comments) and replace
## the example values with the paper's.
id: {info['id']}
title: {_q(info['title'])}
authors: [{', '.join(_q(name) for name in info['authors'])}]
year: {info['year']}   {year_note}
{venue_line}
{arxiv_line}

## The authors' code, pinned: their repository (https, ssh or user@host:path) and the FULL
## 40-hex commit you reproduce (`git rev-parse HEAD` in a clone). Never a branch or tag:
## they move. Without code from the authors, name the repository you treat as the reference.
reference:
  repo: {_q(TODO_REPO)}   # TODO: e.g. https://github.com/greydanus/mnist1d
  commit: {_q(TODO_COMMIT)}   # TODO: e.g. 7878d96082abd200c546a07a4101fa90b30fdf7e

## pip requirements of the implementations, beyond the harness's own (documentation for now).
# requirements:
#   - mnist1d==0.0.2.post1   # TODO: pin the versions you ran

## Data files the code needs and does not make itself, one entry each; they are downloaded,
## checked and handed to run() as ctx.data[name]. `sha256sum FILE` and `stat -c %s FILE`
## give the last two fields. Data the code generates itself needs no entry.
# data:
#   - name: train.npz                                 # a plain file name: its key in ctx.data
#     urls: [https://example.org/TODO/train.npz]      # mirrors, tried in order
#     sha256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"   # TODO: sha256sum FILE
#     size: 123456
#     extract: false                                  # true for a .zip / .tar.gz: ctx.data names the folder

## Every knob a run takes, with the PAPER's value as its default. run(cfg, ctx) receives
## them merged: these defaults, then the profile's config, then the claim's setting, then
## `repro run --set key=value` (typed like the default). Profiles and claims may use only
## these keys. Write down in README.md where the paper and the code disagree.
# config:
#   model: cnn              # TODO: what the claims vary, e.g. the architecture
#   total_steps: 6000       # TODO: the paper's training length
#   batch_size: 100
#   learning_rate: 0.01
#   eval_every: 250

## Two profiles are required. quick: CI and first contact, well under a minute on 2 CPU
## cores, paper_protocol: false. full: the paper's own protocol, paper_protocol: true.
## seeds: a list [0, 1] or a count (3 = seeds 0, 1, 2). expected_seconds: measured on
## 2 CPU cores with --jobs 1. An optional `claims: [id, ...]` runs only those claims.
# profiles:
#   quick:
#     description: Smoke test, a third of the steps and one seed; cannot confirm the paper's numbers.
#     config: {{total_steps: 2000}}
#     seeds: [0]
#     expected_seconds: 30    # TODO: measure
#     paper_protocol: false
#   full:
#     description: The paper's protocol, 3 seeds.
#     seeds: 3
#     expected_seconds: 300   # TODO: measure
#     paper_protocol: true

## One entry per number the paper reports:
##   id          short name, lower-case letters, digits, _; unique in this paper
##   metric      the key of the dict run() returns that holds this number
##   setting     config overrides that produce it ({{}} for the defaults); claims with the
##               same setting share their runs
##   reported    the paper's value (reported_sd, reported_n: its spread and seed count, if given)
##   direction   higher or lower: which way is better
##   tolerance   {{abs: 1.0}} in the metric's unit, or {{rel: 0.05}} of |reported|; justify
##               it in README.md (rounding of the reported number, seed spread, test-set size)
##   source      where the paper reports it: "Table 2", "Figure 3", "Abstract"
# claims:
#   - id: cnn_test_acc
#     description: "CNN, test accuracy (%)"   # TODO
#     metric: test_acc
#     setting: {{model: cnn}}
#     reported: 94.0
#     direction: higher
#     tolerance: {{abs: 2.0}}
#     source: "Table 1"
"""


def reference_py(info: dict) -> str:
    return f'''\
"""Adapter: the authors' own code for "{_comment(info["title"], 60)}", run from the pinned checkout.

TODO: say which of the authors' scripts or functions this runs and how that matches the
paper's protocol (papers/mnist1d/reference.py is the worked example, in import style).

The harness calls run(cfg, ctx) once per run: cfg is paper.yaml's config merged with the
profile's, the claim's setting and --set; ctx.seed is the run's seed; ctx.device is "cpu"
or "cuda"; ctx.source_dir is a checkout of exactly reference.commit (`repro fetch
{info["id"]}`); ctx.data[name] is each verified data file; ctx.python is the worker's
interpreter. Never edit the checkout: work around its problems here and write each one
down in README.md, "Reproduction notes". Guide: docs/adding-a-paper.md, section 2.

Two styles; keep the one that fits the authors' code and delete the other:
- script style (most repositories): run their training script with ctx.run_script and turn
  the lines it prints into metrics with regular expressions;
- import style (their code is importable): import their files from ctx.source_dir, call
  their functions, and catch what they print with ctx.watch_output.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# The lines the authors' code prints, as regular expressions: each named group is a metric
# (a point on the run's curves), an optional (?P<step>...) group is the x axis. The last value
# of each metric is what the run returns. TODO: copy a real line of their output and write the
# pattern against it; the metric names must be the claims' `metric`s in paper.yaml.
PATTERNS = [
    r"step (?P<step>\\d+).*test_acc (?P<test_acc>[\\d.]+)",
]


def run(cfg: dict, ctx) -> dict[str, float]:
    """One run of the authors' code with cfg; returns the final metrics."""
    # TODO: keep one style, delete the other, and replace this raise with
    #   return run_script_style(cfg, ctx)     or     return import_style(cfg, ctx)
    raise NotImplementedError(
        "papers/{info["id"]}/reference.py is still the template: fill in run() (docs/adding-a-paper.md, section 2)"
    )


# ------------------------------------------------------ script style: ctx.run_script


def run_script_style(cfg: dict, ctx) -> dict[str, float]:
    """Run their script as a process of its own; its output goes into the run's log line by
    line. A non-zero exit or the timeout fails the run, and `repro runs show RUN_ID` prints
    the log's tail. The worker's seeding does not reach the script: pass ctx.seed if it takes
    a seed (and say in the README if it does not)."""
    return ctx.run_script(
        [
            ctx.python, "train.py",                          # TODO: their script, with the paper's flags
            "--steps", str(cfg["total_steps"]),              # TODO: one flag per config key it reads
            "--seed", str(ctx.seed),
            *(["--cuda"] if ctx.device == "cuda" else []),
        ],
        cwd=ctx.source_dir,                                  # TODO: the folder the script expects
        patterns=PATTERNS,
        env=None,                                            # e.g. {{"SOME_FLAG": "1"}}, a documented workaround
        timeout=None,                                        # seconds, if it can hang
    )


# ---------------------------------------------------- import style: ctx.watch_output


def load_module(name: str, path: Path):
    """Import one of the authors' files under a name of our own (theirs, like `train`, are generic)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def import_style(cfg: dict, ctx) -> dict[str, float]:
    """Call their functions in this process. The worker has already seeded python, numpy and
    torch from ctx.seed, set torch's threads and chosen the device."""
    sys.path.insert(0, str(ctx.source_dir))  # so that their own imports resolve
    train = load_module("{info["id"]}_authors_train", ctx.source_dir / "train.py")  # TODO: their file
    ctx.expect_steps(cfg["total_steps"])  # progress shows step m of n
    with ctx.watch_output(PATTERNS) as printed:
        train.main(steps=cfg["total_steps"], device=ctx.device)  # TODO: their entry point
    # The last printed value of each metric; or build the dict from what their function returns
    # (papers/mnist1d/reference.py takes the last entry of the history train_model returns).
    return dict(printed.last)
'''


def reimpl_py(info: dict) -> str:
    venue = info["venue"] or str(info["year"])
    return f'''\
"""{_comment(info["title"], 70)}, re-implemented from the paper ({_byline(info["authors"])}, {_comment(venue, 40)}).

TODO: two or three sentences: what is trained on what, how it is evaluated, and which
section of the paper specifies it.

How to write it (the style of papers/mnist1d/reimpl.py, and of nanoGPT): one file that
reads from top to bottom (data, model, training, and `run`, the entry point the harness
calls); plain PyTorch, no framework; every hyperparameter comes from cfg (paper.yaml's
config), never from a constant buried in the code; tensor shapes in comments, e.g.
`# (batch, channels, length)`; beside each choice, the paper's section, table or equation
that specifies it, or "not stated in the paper; the authors' code does ...". Where the
paper and the authors' code disagree, say which this follows, and why, in README.md.

Interface (docs/design.md):
    run(cfg, ctx) -> dict[str, float]   train and evaluate once; the keys are the claims' metrics
    build_model(cfg) -> nn.Module       the model for cfg, freshly initialised (used by the checks)
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------- data


def load_data(cfg: dict, ctx) -> dict[str, torch.Tensor]:
    """The training and test sets as tensors on ctx.device.

    TODO: downloaded files arrive checked in ctx.data[name] (paper.yaml `data`). Data you
    generate goes under ctx.cache_dir, shared by all the paper's runs: write a temp file
    and os.replace it, so a parallel run never reads half a file. Never depend on the run's
    seed here unless the paper does.
    """
    raise NotImplementedError("TODO: load_data in papers/{info["id"]}/reimpl.py")


# -------------------------------------------------------------------------- model


class Model(nn.Module):
    """TODO: the paper's architecture (which section or table gives its sizes)."""

    def __init__(self, cfg: dict):
        super().__init__()
        # TODO: the layers, sized from cfg, in the order the paper describes them
        # (the order of creation is the order of initialisation from the seed).
        raise NotImplementedError("TODO: Model.__init__ in papers/{info["id"]}/reimpl.py")

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (batch, ...)
        # TODO: one line per layer, with the shape it produces in a comment.
        raise NotImplementedError("TODO: Model.forward in papers/{info["id"]}/reimpl.py")


def build_model(cfg: dict) -> nn.Module:
    return Model(cfg)


# ------------------------------------------------------------------------ training


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Percentage of correct predictions, in evaluation mode. TODO: the paper's metric."""
    was_training = model.training
    model.eval()
    correct = (model(x).argmax(dim=-1) == y).sum().item()
    model.train(was_training)
    return 100.0 * correct / len(y)


def run(cfg: dict, ctx) -> dict[str, float]:
    data = load_data(cfg, ctx)
    x, y = data["x"], data["y"]  # TODO: the names load_data returns
    model = build_model(cfg).to(ctx.device)  # initialised from the seed the worker set
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["learning_rate"])  # TODO: the paper's optimizer
    steps, batch, eval_every = cfg["total_steps"], cfg["batch_size"], cfg["eval_every"]
    ctx.expect_steps(steps)

    for step in range(1, steps + 1):
        start = ((step - 1) * batch) % len(x)  # TODO: the paper's batching (in order? shuffled?)
        xb, yb = x[start : start + batch], y[start : start + batch]
        loss = F.cross_entropy(model(xb), yb)  # TODO: the paper's loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            ctx.log(step, train_loss=loss.item(), test_acc=accuracy(model, data["x_test"], data["y_test"]))

    # The keys are the `metric`s of the claims in paper.yaml.
    return {{"test_acc": accuracy(model, data["x_test"], data["y_test"]), "train_acc": accuracy(model, x, y)}}
'''


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
    pid = info["id"]
    return f"""\
# {info['title']} — {_byline(info['authors'])}, {where}

{paragraph}

## Claims

| claim | reported | where | tolerance | why this tolerance |
|---|---|---|---|---|
| `TODO_claim_id` | TODO | TODO: Table 1, Figure 2, Abstract | TODO | TODO |

TODO: one row per claim of paper.yaml. Justify each tolerance: the rounding of the reported
number, the seed spread the paper gives, the binomial standard error of the test-set size.
Say which of the paper's numbers you leave out, and why.

## Protocol

- **Data**: TODO: the dataset, its version and split, where it comes from, preprocessing.
- **Model**: TODO: the architecture and its sizes (parameter count), as the paper gives them.
- **Training**: TODO: optimizer, learning rate and schedule, batch size, steps or epochs,
  regularisation; where the paper and the authors' code disagree, and which this follows.
- **Evaluation**: TODO: the metric, on what, at which point of training.
- **Seeds**: TODO: how many the paper reports; what the profiles here run.

## Running it

```bash
repro show {pid}                               # the manifest, claims and profiles
repro run {pid}                                # quick: TODO runs, TODO steps, 1 seed  (~TODO s on 2 cores)
repro run {pid} --profile full --jobs 2        # the paper's protocol                (~TODO on 2 cores)
repro run {pid} --impl reference --profile full   # the authors' code at the pinned commit
```

TODO: what the quick profile can and cannot show.

## Reproduction notes

- TODO: every problem met on the way and its workaround: the authors' code vs the paper,
  missing seeds, downloads at run time, library versions, numbers that do not reproduce.

## Results

| implementation | profile | claim | measured (mean ± sd, n) | verdict | hardware | date |
|---|---|---|---|---|---|---|
| TODO: reference (authors' code @ short SHA) | full | TODO | TODO | TODO | TODO: CPU/GPU, torch version | TODO |
| TODO: reimpl | full | TODO | TODO | TODO | TODO | TODO |
"""
