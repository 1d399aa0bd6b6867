"""The arXiv client of `repro new`: one paper's metadata from the arXiv API.

    fetch_arxiv("2011.14439")   # title, authors, year, abstract, journal ref, comment, doi
"""

from __future__ import annotations

import re

from repro.catalog.manifest import ARXIV_RE
from repro.errors import ArxivError, ArxivUnreachable, UsageError
from repro.paths import arxiv_api_override

ARXIV_API = "https://export.arxiv.org/api/query"
ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV_NS = "{http://arxiv.org/schemas/atom}"


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
    url = arxiv_api_override() or api_url
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
            reason = collapse(_text(entry, f"{ATOM}summary")) or "an error entry"
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
    authors = [collapse(_text(a, f"{ATOM}name")) for a in entry.findall(f"{ATOM}author")]
    return {
        "arxiv": canonical,
        "version": version,
        "title": collapse(_text(entry, f"{ATOM}title")),
        "authors": [name for name in authors if name],
        "year": int(published[:4]),
        "published": published[:10],
        "abstract": collapse(_text(entry, f"{ATOM}summary")),
        "journal_ref": collapse(_text(entry, f"{ARXIV_NS}journal_ref")),
        "comment": collapse(_text(entry, f"{ARXIV_NS}comment")),
        "doi": collapse(_text(entry, f"{ARXIV_NS}doi")),
        "url": f"https://arxiv.org/abs/{canonical}",
    }


def _text(element, tag: str) -> str:
    found = element.find(tag)
    return "".join(found.itertext()) if found is not None else ""


def collapse(text: str) -> str:
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
