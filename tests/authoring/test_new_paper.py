"""`repro new`: a paper folder from arXiv metadata (or given offline), through the library API.

The arXiv API is a threaded HTTP server on 127.0.0.1 (fixture `arxiv`) answering in the API's
Atom format; REPRO_ARXIV_API points at it and REPRO_PAPERS at a temporary catalog.
"""

from __future__ import annotations

import ast
import json
import importlib.util
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from conftest import run_repro
from repro.authoring import new_paper as scaffold
from repro.authoring.arxiv import fetch_arxiv, normalize_arxiv_id
from repro.authoring.new_paper import (
    default_paper_id,
    describe_new,
    new_paper,
    problem_fields,
    remaining_problems,
    start_paper,
)
from repro.catalog import load_manifest, load_paper
from repro.errors import ArxivError, ArxivUnreachable, ManifestError, PaperExists, ReproError, UsageError

TITLE = "Scaling Down Deep Learning with MNIST-1D"
ABSTRACT_START = "Although deep learning models have taken on commercial and political relevance"

# What export.arxiv.org/api/query?id_list=2011.14439 answers (abridged where noted): the
# title and summary are wrapped over several lines, as arXiv does.
MNIST1D_FEED = """\
<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?search_query%3D%26id_list%3D2011.14439%26start%3D0%26max_results%3D1" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=&amp;id_list=2011.14439&amp;start=0&amp;max_results=1</title>
  <id>http://arxiv.org/api/9oWGtGR3PmnJnPDw8jxxW7wv0Ac</id>
  <updated>2024-06-05T00:00:00-04:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:itemsPerPage>
  <entry>
    <id>http://arxiv.org/abs/2011.14439v4</id>
    <updated>2024-06-04T17:37:05Z</updated>
    <published>2020-11-29T18:26:53Z</published>
    <title>Scaling Down Deep Learning with
  MNIST-1D</title>
    <summary>  Although deep learning models have taken on commercial and political relevance,
key aspects of their training and operation remain poorly understood. This has
sparked interest in science of deep learning projects, many of which require
large amounts of time, money, and electricity. But how much of this research
really needs to occur at scale? In this paper, we introduce MNIST-1D: a
minimalist, procedurally generated, low-memory, and low-compute alternative to
classic deep learning benchmarks. Although the dimensionality of MNIST-1D is
only 40 and its default training set size only 4000, MNIST-1D can be used to
study inductive biases of different deep architectures, find lottery tickets,
observe deep double descent, metalearn an activation function, and demonstrate
guillotine regularization in self-supervised learning. All these experiments
can be conducted on a GPU or often even on a CPU within minutes, allowing for
fast prototyping, educational use cases, and cutting-edge research on a low
budget.
</summary>
    <author>
      <name>Sam Greydanus</name>
    </author>
    <author>
      <name>Dmitry Kobak</name>
    </author>
    <arxiv:comment xmlns:arxiv="http://arxiv.org/schemas/atom">Published at ICML 2024</arxiv:comment>
    <link href="http://arxiv.org/abs/2011.14439v4" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/2011.14439v4" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.NE" scheme="http://arxiv.org/schemas/atom"/>
    <category term="stat.ML" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
</feed>
"""

# A well-formed id arXiv does not have: a feed with no entry.
EMPTY_FEED = """\
<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?search_query%3D%26id_list%3D2011.99999%26start%3D0%26max_results%3D1" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=&amp;id_list=2011.99999&amp;start=0&amp;max_results=1</title>
  <id>http://arxiv.org/api/Qz0vVbmnHnBXUw2xnXN4Hk4Yw8g</id>
  <updated>2024-06-05T00:00:00-04:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:itemsPerPage>
</feed>
"""

# An id arXiv refuses: one entry whose id is an API error.
ERROR_FEED = """\
<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?search_query%3D%26id_list%3D1234.56789%26start%3D0%26max_results%3D1" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=&amp;id_list=1234.56789&amp;start=0&amp;max_results=1</title>
  <id>http://arxiv.org/api/V3tSRCdYNfFmh0RDYq4U+6zOcuY</id>
  <updated>2024-06-05T00:00:00-04:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:itemsPerPage>
  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.56789</id>
    <title>Error</title>
    <summary>incorrect id format for 1234.56789</summary>
    <updated>2024-06-05T00:00:00-04:00</updated>
    <link href="http://arxiv.org/api/errors#incorrect_id_format_for_1234.56789" rel="alternate" type="text/html"/>
    <author>
      <name>arXiv api core</name>
    </author>
  </entry>
</feed>
"""


def feed_with(entry_id: str, title: str, published: str = "2021-03-01T00:00:00Z", extra: str = "") -> str:
    """A one-entry feed for another paper (journal_ref and such in `extra`)."""
    body = MNIST1D_FEED.replace("2011.14439v4", entry_id).replace("2011.14439", entry_id.split("v")[0])
    body = re.sub(r"<title>Scaling Down.*?MNIST-1D</title>", f"<title>{title}</title>", body, flags=re.S)
    body = body.replace("2020-11-29T18:26:53Z", published)
    return body.replace("  </entry>", f"    {extra}\n  </entry>") if extra else body


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        state: ArxivServer = self.server.state  # type: ignore[attr-defined]
        url = urlparse(self.path)
        ids = parse_qs(url.query).get("id_list", [""])
        state.requests.append((url.path, ids[0]))
        status, body = state.answers.get(ids[0], (200, EMPTY_FEED))
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ArxivServer:
    """Answers /api/query?id_list=ID with answers[ID] = (status, body), else an empty feed."""

    def __init__(self):
        self.answers: dict[str, tuple[int, str]] = {
            "2011.14439": (200, MNIST1D_FEED),
            "1234.56789": (200, ERROR_FEED),
        }
        self.requests: list[tuple[str, str]] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.state = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/query"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)


@pytest.fixture
def arxiv(monkeypatch):
    server = ArxivServer()
    server.thread.start()
    monkeypatch.setenv("REPRO_ARXIV_API", server.url)
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(5)


@pytest.fixture
def papers(tmp_path, monkeypatch, repro_home) -> Path:
    """An empty catalog, pointed at by REPRO_PAPERS; no proxy between us and 127.0.0.1."""
    folder = tmp_path / "papers"
    folder.mkdir()
    monkeypatch.setenv("REPRO_PAPERS", str(folder))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return folder


@pytest.fixture
def closed_port_url(monkeypatch) -> str:
    """An API URL on a port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/query"
    monkeypatch.setenv("REPRO_ARXIV_API", url)
    return url


def manifest_fields(folder: Path) -> set[str]:
    """The fields load_manifest finds problems in (it must fail: the folder is fresh)."""
    with pytest.raises(ManifestError) as caught:
        load_manifest(folder / "paper.yaml")
    return set(problem_fields(caught.value.problems, folder / "paper.yaml"))


def uncommented(text: str) -> str:
    """paper.yaml with its template lines uncommented, as an editor's toggle-comment does:
    '# key: value' -> 'key: value', while '## explanations' stay comments."""
    lines = text.splitlines()
    return "\n".join([lines[0]] + [line[2:] if line.startswith("# ") else line for line in lines[1:]]) + "\n"


def leftovers(papers: Path) -> list[str]:
    return sorted(p.name for p in papers.iterdir())


# ------------------------------------------------------------------ from arXiv


def test_fetch_arxiv_parses_the_atom_feed(arxiv, papers):
    record = fetch_arxiv("2011.14439")
    assert record["title"] == TITLE  # whitespace of the wrapped title collapsed
    assert record["authors"] == ["Sam Greydanus", "Dmitry Kobak"]
    assert record["year"] == 2020 and record["published"] == "2020-11-29"
    assert record["arxiv"] == "2011.14439" and record["version"] == "v4"
    assert record["abstract"].startswith(ABSTRACT_START)
    assert record["abstract"].endswith("on a low budget.") and "\n" not in record["abstract"]
    assert "  " not in record["abstract"]
    assert record["comment"] == "Published at ICML 2024"
    assert record["url"] == "https://arxiv.org/abs/2011.14439"
    assert arxiv.requests == [("/api/query", "2011.14439")]


def test_new_paper_from_arxiv_fills_the_metadata(arxiv, papers):
    folder = start_paper("2011.14439")

    assert folder == papers / "scaling_down_deep"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "paper.yaml", "reference.py", "reimpl.py"]
    assert leftovers(papers) == ["scaling_down_deep"]  # no staging folder left behind

    text = (folder / "paper.yaml").read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../paper.schema.json"
    manifest = yaml.safe_load(text)
    assert manifest["id"] == "scaling_down_deep"
    assert manifest["title"] == TITLE
    assert manifest["authors"] == ["Sam Greydanus", "Dmitry Kobak"]
    assert manifest["year"] == 2020
    assert manifest["arxiv"] == "2011.14439"
    assert manifest["venue"] == ""  # not known from arXiv: a TODO
    assert manifest["reference"] == {"repo": scaffold.TODO_REPO, "commit": scaffold.TODO_COMMIT}
    assert "TODO" in manifest["reference"]["repo"] and "TODO" in manifest["reference"]["commit"]
    assert "docs/adding-a-paper.md" in text
    assert "arXiv v1: 2020-11-29" in text and "Published at ICML 2024" in text  # hints for the TODOs

    readme = (folder / "README.md").read_text()
    assert readme.splitlines()[0] == f"# {TITLE} — Greydanus & Kobak, 2020"
    assert ABSTRACT_START in readme and "arxiv.org/abs/2011.14439" in readme
    headings = [line for line in readme.splitlines() if line.startswith("## ")]
    assert headings == ["## Claims", "## Protocol", "## Running it", "## Reproduction notes", "## Results"]
    assert "repro run scaling_down_deep" in readme


def test_fresh_manifest_fails_only_on_the_todos(arxiv, papers):
    folder = start_paper("2011.14439", paper_id="mnist_1d")
    assert manifest_fields(folder) == {"venue", "reference.repo", "reference.commit", "config", "profiles", "claims"}
    # `repro show` goes through load_paper: the same problems, every one at once.
    with pytest.raises(ManifestError) as caught:
        load_paper("mnist_1d")
    assert len(caught.value.problems) == 6
    assert any("TODO-full-40-hex-commit-sha" in p and "full 40-hex commit SHA" in p for p in caught.value.problems)


def test_uncommented_templates_are_a_valid_manifest(arxiv, papers):
    """The commented templates hold no mistakes: uncommented and with the TODOs filled, it validates."""
    folder = start_paper("2011.14439", paper_id="mnist_1d")
    text = uncommented((folder / "paper.yaml").read_text())
    text = text.replace(scaffold.TODO_REPO, "https://github.com/greydanus/mnist1d")
    text = text.replace(scaffold.TODO_COMMIT, "7878d96082abd200c546a07a4101fa90b30fdf7e")
    text = text.replace('venue: ""', 'venue: "ICML 2024"')
    # A data entry needs a real sha256 only to download; the template's is well-formed.
    (folder / "paper.yaml").write_text(text)
    paper = load_manifest(folder / "paper.yaml")
    assert paper.id == "mnist_1d" and paper.venue == "ICML 2024"
    assert set(paper.profiles) == {"quick", "full"} and [c.id for c in paper.claims] == ["cnn_test_acc"]
    assert paper.data and paper.requirements


def test_unfilled_templates_are_listed_as_templates_and_never_run(arxiv, papers):
    folder = start_paper("2011.14439", paper_id="mnist_1d")
    text = uncommented((folder / "paper.yaml").read_text())
    text = text.replace(scaffold.TODO_REPO, "https://github.com/greydanus/mnist1d")
    text = text.replace(scaffold.TODO_COMMIT, "7878d96082abd200c546a07a4101fa90b30fdf7e")
    (folder / "paper.yaml").write_text(text.replace('venue: ""', 'venue: "ICML 2024"'))

    shown = run_repro("show", "mnist_1d")
    assert "implementations: none" in shown.stdout
    assert "reimpl: reimpl.py is the template `repro new` wrote, not an implementation yet" in shown.stdout
    assert set(json.loads(run_repro("show", "mnist_1d", "--json").stdout)["templates"]) == {"reference", "reimpl"}
    refused = run_repro("run", "mnist_1d", "--dry-run")
    assert refused.returncode == 2
    assert "reimpl.py is still the template `repro new` wrote" in refused.stderr and "REPRO_TEMPLATE" in refused.stderr

    filled = (folder / "reimpl.py").read_text()
    (folder / "reimpl.py").write_text(filled.replace("REPRO_TEMPLATE = True", "", 1))  # the student's first step
    assert "implementations: reimpl" in run_repro("show", "mnist_1d").stdout


def test_journal_ref_becomes_the_venue(arxiv, papers):
    arxiv.answers["2106.00001v2"] = (200, feed_with(
        "2106.00001v2", "BERT: Pre-training of Deep Bidirectional\n   Transformers",
        extra='<arxiv:journal_ref xmlns:arxiv="http://arxiv.org/schemas/atom">NAACL 2019</arxiv:journal_ref>',
    ))
    folder = start_paper("arXiv:2106.00001v2")
    assert folder.name == "bert"
    manifest = yaml.safe_load((folder / "paper.yaml").read_text())
    assert manifest["venue"] == "NAACL 2019" and manifest["year"] == 2021 and manifest["arxiv"] == "2106.00001"
    assert manifest_fields(folder) == {"reference.repo", "reference.commit", "config", "profiles", "claims"}
    assert arxiv.requests == [("/api/query", "2106.00001v2")]


def test_templates_are_python_with_the_interface(arxiv, papers):
    folder = start_paper("2011.14439")
    for name, functions in (("reference.py", {"run"}), ("reimpl.py", {"run", "build_model"})):
        tree = ast.parse((folder / name).read_text(), filename=name)
        defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert functions <= defined, name
        assert "TODO" in (folder / name).read_text()
    reference = (folder / "reference.py").read_text()
    assert "ctx.run_script" in reference and "ctx.watch_output" in reference

    # The adapter imports (no heavy imports) and says it is still the template.
    spec = importlib.util.spec_from_file_location("new_paper_reference_template", folder / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(NotImplementedError, match="template"):
        module.run({}, None)


# --------------------------------------------------------------------- offline


def test_offline_form_needs_no_server(papers, closed_port_url):
    folder = start_paper(title="A Toy: Study of Things", authors="Ada Lovelace, Alan Turing and Grace Hopper",
                         year=2024, venue="NeurIPS 2024")
    assert folder == papers / "toy"  # the name before the colon, without its article
    manifest = yaml.safe_load((folder / "paper.yaml").read_text())
    assert manifest["authors"] == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert manifest["year"] == 2024 and manifest["venue"] == "NeurIPS 2024" and "arxiv" not in manifest
    assert manifest_fields(folder) == {"reference.repo", "reference.commit", "config", "profiles", "claims"}
    readme = (folder / "README.md").read_text()
    assert readme.startswith("# A Toy: Study of Things — Lovelace et al., NeurIPS 2024\n")
    assert "TODO: one paragraph" in readme  # no abstract known


def test_offline_form_with_an_arxiv_id_fetches_nothing(arxiv, papers):
    folder = start_paper("2011.14439", paper_id="mnist1d", title=TITLE, authors=["Sam Greydanus", "Dmitry Kobak"],
                         year=2024, venue="ICML 2024")
    assert arxiv.requests == []
    manifest = yaml.safe_load((folder / "paper.yaml").read_text())
    assert manifest["arxiv"] == "2011.14439" and manifest["year"] == 2024


def test_odd_titles_survive_yaml(papers):
    title = 'On "Quotes": a \\backslash, #hash, {braces} & ünïcode — 100% [sic]'
    folder = new_paper("odd", title=title, authors=["Zoë O'Brien"], year=2023, venue="Venue: 2023")
    manifest = yaml.safe_load((folder / "paper.yaml").read_text())
    assert manifest["title"] == title and manifest["authors"] == ["Zoë O'Brien"] and manifest["venue"] == "Venue: 2023"
    assert manifest_fields(folder) == {"reference.repo", "reference.commit", "config", "profiles", "claims"}
    ast.parse((folder / "reimpl.py").read_text())
    ast.parse((folder / "reference.py").read_text())


def test_offline_form_missing_metadata(papers):
    with pytest.raises(UsageError, match="--authors, --year"):
        start_paper(title="Something")
    with pytest.raises(UsageError, match="not a year"):
        new_paper("x", title="T", authors="A", year=20)
    assert leftovers(papers) == []


# --------------------------------------------------------------------- errors


def test_unreachable_api_gives_the_offline_form(papers, closed_port_url):
    with pytest.raises(ArxivUnreachable) as caught:
        start_paper("2011.14439")
    message = str(caught.value)
    assert caught.value.exit_code == 2 and isinstance(caught.value, ReproError)
    assert message.startswith(f"could not reach arXiv at {closed_port_url}")
    assert "Connection refused" in message
    assert 'repro new --id <id> --title "..." --authors "A, B" --year 2024' in message
    assert leftovers(papers) == []


def test_api_that_never_answers_times_out(papers, monkeypatch):
    with socket.socket() as listener:  # accepts connections (the backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        monkeypatch.setenv("REPRO_ARXIV_API", f"http://127.0.0.1:{listener.getsockname()[1]}/api/query")
        started = time.monotonic()
        with pytest.raises(ArxivUnreachable, match="could not reach arXiv .*no answer in time"):
            fetch_arxiv("2011.14439", timeout=0.5)
        assert time.monotonic() - started < 10


def test_server_error_counts_as_unreachable(arxiv, papers):
    arxiv.answers["2011.14439"] = (503, "<html>Service Unavailable</html>")
    with pytest.raises(ArxivUnreachable, match="HTTP 503"):
        start_paper("2011.14439")
    assert leftovers(papers) == []


def test_unknown_id_no_entry(arxiv, papers):
    with pytest.raises(ArxivError) as caught:
        start_paper("2011.99999")
    assert not isinstance(caught.value, ArxivUnreachable) and caught.value.exit_code == 2
    assert "arXiv has no paper '2011.99999'" in str(caught.value)
    assert arxiv.requests == [("/api/query", "2011.99999")]
    assert leftovers(papers) == []


def test_unknown_id_error_entry(arxiv, papers):
    with pytest.raises(ArxivError, match="arXiv refused id '1234.56789': incorrect id format for 1234.56789"):
        start_paper("1234.56789")
    arxiv.answers["1234.56789"] = (400, ERROR_FEED)  # the same error, with an HTTP error status
    with pytest.raises(ArxivError, match="incorrect id format"):
        fetch_arxiv("1234.56789")
    assert leftovers(papers) == []


def test_not_an_atom_feed(arxiv, papers):
    arxiv.answers["2011.14439"] = (200, "<html><body>a captive portal</body></html>")
    with pytest.raises(ArxivError, match="not an Atom feed"):
        fetch_arxiv("2011.14439")
    arxiv.answers["2011.14439"] = (200, "not xml at all")
    with pytest.raises(ArxivError, match="not an Atom feed"):
        fetch_arxiv("2011.14439")


def test_another_paper_in_the_answer_is_refused(arxiv, papers):
    arxiv.answers["2011.14440"] = (200, MNIST1D_FEED)
    with pytest.raises(ArxivError, match="another paper"):
        fetch_arxiv("2011.14440")


def test_existing_folder_is_not_overwritten(arxiv, papers):
    folder = papers / "scaling_down_deep"
    folder.mkdir()
    (folder / "paper.yaml").write_text("mine\n")
    with pytest.raises(PaperExists) as caught:
        start_paper("2011.14439")
    assert caught.value.exit_code == 2 and "--id" in str(caught.value)
    assert (folder / "paper.yaml").read_text() == "mine\n"
    assert leftovers(papers) == ["scaling_down_deep"]

    empty = papers / "empty"
    empty.mkdir()
    with pytest.raises(PaperExists):
        new_paper("empty", title="T", authors="A", year=2024)
    assert list(empty.iterdir()) == []

    start_paper("2011.14439", paper_id="mnist_1d")
    with pytest.raises(PaperExists):
        start_paper("2011.14439", paper_id="mnist_1d")


@pytest.mark.parametrize("bad", ["MNIST1D", "1paper", "mnist-1d", "../escape", "a/b", "", "_x", "x y"])
def test_bad_paper_ids_refused(arxiv, papers, bad):
    with pytest.raises(UsageError, match="not a paper id"):
        start_paper("2011.14439", paper_id=bad)
    with pytest.raises(UsageError, match="not a paper id"):
        new_paper(bad, title="T", authors="A", year=2024)
    assert arxiv.requests == []  # refused before asking arXiv
    assert leftovers(papers) == []


@pytest.mark.parametrize("bad", ["2011.144", "11.14439", "2011.14439v", "mnist1d", "2011.14439 OR 1", "", "../x"])
def test_malformed_arxiv_ids_refused_before_any_request(arxiv, papers, bad):
    with pytest.raises(UsageError, match="not an arXiv identifier"):
        start_paper(bad)
    with pytest.raises(UsageError, match="not an arXiv identifier"):
        fetch_arxiv(bad)
    assert arxiv.requests == []


# -------------------------------------------------------------------- helpers


@pytest.mark.parametrize("given, expected", [
    ("2011.14439", "2011.14439"),
    ("arXiv:2011.14439v2", "2011.14439v2"),
    ("https://arxiv.org/abs/2011.14439", "2011.14439"),
    ("http://arxiv.org/pdf/2011.14439v1.pdf", "2011.14439v1"),
    ("hep-th/9901001", "hep-th/9901001"),
])
def test_arxiv_id_forms(given, expected):
    assert normalize_arxiv_id(given) == expected


@pytest.mark.parametrize("title, expected", [
    (TITLE, "scaling_down_deep"),
    ("BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding", "bert"),
    ("The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural Networks", "lottery_ticket_hypothesis"),
    ("Attention Is All You Need", "attention_is_all"),
    ("3D Gaussian Splatting for Real-Time Radiance Field Rendering", "paper_3d_gaussian_splatting"),
    ("Über Résumés", "uber_resumes"),
])
def test_default_ids(title, expected):
    assert default_paper_id(title) == expected


def test_default_id_from_arxiv_when_the_title_gives_none():
    assert default_paper_id("—", arxiv="2011.14439") == "arxiv_2011_14439"
    with pytest.raises(UsageError, match="--id"):
        default_paper_id("—")


def test_describe_new_lists_files_and_what_is_left(arxiv, papers):
    folder = start_paper("2011.14439")
    text = describe_new(folder)
    for name in ("paper.yaml", "reference.py", "reimpl.py", "README.md"):
        assert name in text
    for field in ("venue", "reference.repo", "reference.commit", "config", "profiles", "claims"):
        assert f"  {field}: " in text
    assert "repro show scaling_down_deep" in text and "docs/adding-a-paper.md" in text
    assert len(remaining_problems(folder)) == 6


def test_cli_new_offline_form_and_errors(tmp_path, monkeypatch):
    from conftest import run_repro

    monkeypatch.setenv("REPRO_PAPERS", str(tmp_path / "papers"))
    (tmp_path / "papers").mkdir()
    made = run_repro("new", "--id", "tcn", "--title", "Temporal Convolutional Networks", "--authors",
                     "Shaojie Bai, J. Zico Kolter", "--year", "2018", "--venue", "arXiv")
    assert made.returncode == 0, made.stderr
    assert "reference.commit" in made.stdout and "docs/adding-a-paper.md" in made.stdout
    shown = run_repro("show", "tcn")
    assert shown.returncode == 2 and "reference.commit" in shown.stderr and "Traceback" not in shown.stderr
    again = run_repro("new", "--id", "tcn", "--title", "T", "--authors", "A", "--year", "2018")
    assert again.returncode == 2 and "Traceback" not in again.stderr
    monkeypatch.setenv("REPRO_ARXIV_API", "http://127.0.0.1:9/api/query")  # nothing listens on port 9
    offline = run_repro("new", "2011.14439")
    assert offline.returncode == 2 and "could not reach arXiv" in offline.stderr and "--title" in offline.stderr
