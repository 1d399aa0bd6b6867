"""The paper manifest, papers/<id>/paper.yaml: schema, loading and validation.

Validation reports every problem at once as 'file: field: reason'. Pydantic checks the
shape of each section; `_cross_checks` then checks what spans sections (a claim's setting
must name config keys, a profile's claims must exist, ...), on the raw YAML so that it
runs even when pydantic has already found problems.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from repro.errors import ManifestError

MANIFEST_NAME = "paper.yaml"
MAX_MANIFEST_BYTES = 1024 * 1024  # the built-in manifests are 3-6 KB
MAX_DEPTH = 50  # levels of nesting; a manifest needs 5
MAX_VALUES = 100_000  # values once aliases are expanded
MAX_TEXT = 2000  # characters of a title, description, source, ...
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
ARXIV_RE = re.compile(r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# https://host/..., ssh://[user@]host/..., or scp-style user@host:path (not a local path).
REPO_URL_RE = re.compile(r"^(https://[^\s/]+/\S+|ssh://[^\s/]+/\S+|[\w.-]+@[\w.-]+:[^\s/][^\s]*)$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
FILE_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
ConfigValue = bool | int | float | str | None


def is_safe_repo_url(url: str) -> bool:
    """An https, ssh or scp-style URL whose host and user cannot be read as a command-line option."""
    if not REPO_URL_RE.fullmatch(url) or "::" in url:
        return False
    from urllib.parse import unquote

    authority = url.split("://", 1)[1].split("/", 1)[0] if "://" in url else url.split(":", 1)[0]
    return not any(part.startswith("-") for part in [url, *unquote(authority).split("@")])


def setting_label(setting: dict[str, ConfigValue]) -> str:
    """A claim setting as runs and baselines name it: 'model=cnn', 'a=1,b=2', or 'default'."""
    return ",".join(f"{key}={value}" for key, value in setting.items()) or "default"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, str_max_length=MAX_TEXT)


def _plain_number(value: object) -> object:
    """A number written as one: YAML's true is not 1.0, and "32.0" (text) is not 32.0."""
    if isinstance(value, bool) or isinstance(value, str):
        raise ValueError(f"must be a number, not {'true/false' if isinstance(value, bool) else 'text in quotes'} "
                         f"(got {value!r}); write it without quotes, e.g. 32.0")
    return value


Number = Annotated[float, BeforeValidator(_plain_number)]


class Reference(_Strict):
    """The authors' code, pinned: the repository URL and the full commit SHA reproduced."""

    repo: str = Field(
        description="https, ssh or scp-style git URL of the authors' repository",
        json_schema_extra={"pattern": REPO_URL_RE.pattern},
    )
    commit: str = Field(
        description="full 40-hex commit SHA (never a branch or tag: they move)",
        json_schema_extra={"pattern": SHA_RE.pattern},
    )

    paths: list[str] = Field(
        default_factory=list,
        description="the files and folders the adapter needs, from the repository's root (a folder ends "
        "in '/', '*' globs allowed): only these are checked out, from a partial fetch; empty: the whole tree",
    )

    @field_validator("paths")
    @classmethod
    def _sparse_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            parts = path.strip("/").split("/")
            if (not path.strip("/") or path != path.strip() or any(c in path for c in "\n\r\\")
                    or path[0] in "!#" or ".." in parts or "." in parts):
                raise ValueError(
                    f"{path!r} is not a path inside the repository: write it from the root, e.g. "
                    "'TCN/poly_music/' (a folder) or 'TCN/tcn.py' (a file); no '..', '!' or '#'"
                )
        if len(set(value)) != len(value):
            raise ValueError("a path is listed twice")
        return value

    @field_validator("repo")
    @classmethod
    def _repo_url(cls, value: str) -> str:
        if not is_safe_repo_url(value):
            raise ValueError(
                f"{value!r} is not an https, ssh or scp-style git URL "
                "(e.g. https://github.com/owner/name); file:// and ext:: URLs are refused"
            )
        return value

    @field_validator("commit")
    @classmethod
    def _full_sha(cls, value: str) -> str:
        if not SHA_RE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a full 40-hex commit SHA (branches move; pin the commit "
                "you reproduced, e.g. `git rev-parse master` in the repo)"
            )
        return value


class DataArtifact(_Strict):
    """A data file the implementations need: where to download it and what it must hash to."""

    name: str = Field(description="file name in the cache (no folders), e.g. JSB_Chorales.mat")
    urls: list[str] = Field(min_length=1, description="mirrors, tried in order (http or https)")
    sha256: str = Field(description="sha256 of the file, 64 hex", json_schema_extra={"pattern": SHA256_RE.pattern})
    size: StrictInt = Field(gt=0, description="size in bytes")
    extract: bool = Field(False, description="a .zip or .tar.gz to unpack; ctx.data then names the folder")
    extracted_size: StrictInt | None = Field(
        None, gt=0, description="with extract: the bytes it unpacks to, at most (default: 100x the archive, "
        "at most 10 GB); an archive that unpacks to more is refused")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not FILE_NAME_RE.fullmatch(value) or value in (".", ".."):
            raise ValueError(f"{value!r} must be a plain file name: letters, digits, '.', '_', '-'; no folders")
        return value

    @field_validator("urls")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not re.fullmatch(r"(?i)https?://[^\s/]+(/\S*)?", url):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return value

    @field_validator("sha256")
    @classmethod
    def _sha256(cls, value: str) -> str:
        if not SHA256_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not a sha256 (64 lower-case hex digits; `sha256sum FILE` prints it)")
        return value

    @model_validator(mode="after")
    def _archive_name(self) -> DataArtifact:
        if self.extract and not self.name.endswith(ARCHIVE_SUFFIXES):
            raise ValueError(f"extract: true needs a name ending in {', '.join(ARCHIVE_SUFFIXES)}")
        return self


class Tolerance(_Strict):
    """How far the measured mean may lie from the reported value: absolute or relative."""

    abs: Number | None = Field(None, gt=0, description="absolute, in the metric's unit")
    rel: Number | None = Field(None, gt=0, lt=1, description="relative, a fraction of |reported|")

    @model_validator(mode="after")
    def _exactly_one(self) -> Tolerance:
        if (self.abs is None) == (self.rel is None):
            raise ValueError("give exactly one of 'abs' or 'rel'")
        return self

    def band(self, reported: float) -> float:
        """The half-width of the accepted band around `reported`."""
        return self.abs if self.abs is not None else self.rel * abs(reported)

    def describe(self) -> str:
        return f"±{self.abs:g}" if self.abs is not None else f"±{self.rel:.0%}"


class Claim(_Strict):
    """One number the paper reports, where it reports it, and how close counts."""

    id: str = Field(description="short name, unique in this paper, e.g. cnn_test_acc")
    metric: str = Field(description="the key in the metrics dict that run() returns")
    setting: dict[str, ConfigValue] = Field(
        default_factory=dict, description="config overrides that produce this claim, e.g. {model: cnn}"
    )
    reported: Number = Field(description="the value the paper reports")
    reported_sd: Number | None = Field(None, ge=0, description="the spread the paper reports, if any")
    reported_n: StrictInt | None = Field(None, ge=1, description="the number of seeds behind it, if given")
    direction: Literal["higher", "lower"] = Field(description="which way is better")
    tolerance: Tolerance
    source: str = Field(min_length=3, description="where the paper reports it: 'Table 1', 'Abstract', ...")
    description: str = ""

    @field_validator("id", "metric")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.fullmatch(value):
            raise ValueError(f"{value!r} must be lower-case letters, digits and underscores, starting with a letter")
        return value

    @property
    def setting_label(self) -> str:
        return setting_label(self.setting)


class Profile(_Strict):
    """A named config preset: how many steps, which seeds, how long it takes."""

    description: str = ""
    config: dict[str, ConfigValue] = Field(default_factory=dict, description="overrides of the config defaults")
    seeds: list[StrictInt] | StrictInt = Field(description="a list of seeds, or a count n meaning seeds 0..n-1")
    claims: list[str] | None = Field(None, min_length=1, description="claim ids this profile runs (default: all)")
    expected_seconds: Number | None = Field(
        None, gt=0, description="wall time of `repro run ID --profile NAME --jobs 2` on 2 CPU cores (a run per core, 1 "
        "thread each); leave out where not measured (a GPU-only profile)"
    )
    paper_protocol: bool = Field(description="true when this profile is the paper's own protocol")

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: list[int] | int) -> list[int] | int:
        if isinstance(value, int) and value < 1:
            raise ValueError("a seed count must be at least 1")
        if isinstance(value, list):
            if not value:
                raise ValueError("give at least one seed")
            if any(seed < 0 for seed in value) or len(set(value)) != len(value):
                raise ValueError("seeds must be distinct non-negative integers")
        return value

    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


class PaperManifest(_Strict):
    """The whole paper.yaml."""

    id: str = Field(description="equals the paper's folder name")
    title: str = Field(min_length=1)
    authors: list[str] = Field(min_length=1)
    year: StrictInt = Field(ge=1950, le=2100)
    venue: str = Field(min_length=1)
    arxiv: str | None = Field(
        None, description="arXiv identifier, e.g. 2011.14439", json_schema_extra={"pattern": ARXIV_RE.pattern}
    )
    reference: Reference
    requirements: list[str] = Field(
        default_factory=list,
        description="pip requirements of the authors' code beyond what the harness has (e.g. 'autograd>=1.6'): "
        "repro fetch installs the missing ones into a per-paper environment over the harness's own torch",
    )
    data: list[DataArtifact] = Field(default_factory=list, description="data files to download and verify")
    config: dict[str, ConfigValue] = Field(description="config defaults; every key a run can take")
    speed_metrics: list[str] = Field(
        default_factory=list,
        description="metrics that measure speed (tokens/s, seconds to the best loss), not results: shown "
        "in records, never stored in baselines, which must be exact",
    )
    profiles: dict[str, Profile]
    claims: list[Claim] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not NAME_RE.fullmatch(value):
            raise ValueError(f"{value!r} must be lower-case letters, digits and underscores, starting with a letter")
        return value

    @field_validator("arxiv", mode="before")
    @classmethod
    def _arxiv_is_text(cls, value: object) -> object:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError(
                f"must be a valid string in quotes: YAML read {value!r} as a number; write arxiv: \"{value}\""
            )
        return value

    @field_validator("arxiv")
    @classmethod
    def _arxiv(cls, value: str | None) -> str | None:
        if value is not None and not ARXIV_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not an arXiv identifier like 2011.14439 (quote it in YAML)")
        return value

    @field_validator("requirements")
    @classmethod
    def _pip_requirements(cls, value: list[str]) -> list[str]:
        from packaging.requirements import InvalidRequirement, Requirement

        for text in value:
            try:
                requirement = Requirement(text)
            except InvalidRequirement as exc:
                raise ValueError(f"{text!r} is not a pip requirement ({exc}); write e.g. 'autograd>=1.6'") from None
            if requirement.url:
                raise ValueError(f"{text!r}: a requirement names a package on the index, not a URL")
            if requirement.name.lower() == "torch":
                raise ValueError("torch comes from the harness (one torch for every paper); leave it out "
                                 "and say in README.md which torch the authors used")
        return value

    @field_validator("profiles")
    @classmethod
    def _quick_and_protocol(cls, value: dict[str, Profile]) -> dict[str, Profile]:
        if "quick" not in value:
            raise ValueError("missing profile(s) quick: every paper has 'quick' (CI) and the paper's protocol ('full')")
        if value["quick"].expected_seconds is None:
            raise ValueError("quick.expected_seconds is required: measure the quick profile (CI runs it)")
        if not any(profile.paper_protocol for profile in value.values()):
            raise ValueError("no profile has paper_protocol: true; name the paper's own protocol 'full'")
        return value


class Paper(PaperManifest):
    """A validated manifest together with the folder it came from."""

    _folder: Path = PrivateAttr()

    @property
    def folder(self) -> Path:
        return self._folder

    @property
    def manifest_path(self) -> Path:
        return self._folder / MANIFEST_NAME

    def implementations(self) -> dict[str, Path]:
        """reference.py, reimpl.py, students/*.py and variants/*.py that exist, by name (not
        the unfilled templates `repro new` wrote: see templates). A variant is an idea tried
        against the re-implementation (repro.variants; `repro compare`)."""
        found = {name: path for name, path in self._own_files().items() if not is_template(path)}
        for folder in ("students", "variants"):
            if (self._folder / folder).is_dir():
                for path in sorted((self._folder / folder).glob("*.py")):
                    if not path.name.startswith("_"):
                        found.setdefault(path.stem, path)
        return found

    def templates(self) -> dict[str, Path]:
        """reference.py and reimpl.py that are still `repro new`'s templates, by name."""
        return {name: path for name, path in self._own_files().items() if is_template(path)}

    def _own_files(self) -> dict[str, Path]:
        """reference.py and reimpl.py, those that exist."""
        found = {name: self._folder / f"{name}.py" for name in ("reference", "reimpl")}
        return {name: path for name, path in found.items() if path.exists()}

    def claim(self, claim_id: str) -> Claim:
        return next(claim for claim in self.claims if claim.id == claim_id)

    @property
    def protocol_profile(self) -> str:
        """The profile that runs the paper's own protocol: 'full' where there is one, else the
        first with paper_protocol: true (nanogpt's 'cpu', runnable without a GPU)."""
        if "full" in self.profiles:
            return "full"
        return next(name for name, profile in self.profiles.items() if profile.paper_protocol)


TEMPLATE_LINE = re.compile(r"^REPRO_TEMPLATE = True", re.M)


def is_template(path: Path) -> bool:
    """A file `repro new` wrote and nobody has filled in yet: it still has its REPRO_TEMPLATE line."""
    try:
        return bool(TEMPLATE_LINE.search(path.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False


def load_manifest(path: Path) -> Paper:
    """Validate one manifest file, wherever it is; its folder name must equal its id."""
    path = Path(path)
    raw = _read_yaml(path)
    problems = []
    try:
        paper = Paper.model_validate(raw)
    except ValidationError as exc:
        paper = None
        problems += [f"{path}: {field}: {reason}" for field, reason in _pydantic_problems(exc, raw)]
    problems += [f"{path}: {field}: {reason}" for field, reason in _cross_checks(raw, path.parent.name)]
    if not NAME_RE.fullmatch(path.parent.name):
        problems.append(f"{path}: (folder): {path.parent.name!r} is not a valid paper id; rename the folder "
                        "to lower-case letters, digits and underscores")
    if problems:
        raise ManifestError(problems)
    paper._folder = path.parent.resolve()
    return paper


def json_schema() -> dict[str, Any]:
    """The JSON Schema of paper.yaml, for editors (`repro schema`)."""
    schema = PaperManifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "repro paper.yaml"
    return schema


# ------------------------------------------------------------------------ helpers


def _read_yaml(path: Path) -> dict:
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        """PyYAML silently keeps the last of two equal keys; a manifest must not."""

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    hash(key)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        None, None, "a mapping key must be a plain value, not a list or mapping", key_node.start_mark
                    ) from None
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep)

    class BoundedLoader(UniqueKeyLoader):
        """No deeper than MAX_DEPTH, and aliases that expand to at most MAX_VALUES values (an
        alias bomb composes to a few nodes and expands to billions)."""

        depth = 0

        def compose_node(self, parent, index):
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    raise yaml.composer.ComposerError(
                        None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    if path.is_dir():
        raise ManifestError([f"{path}: (file): a folder, not a file; the manifest is the file papers/<id>/paper.yaml"])
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ManifestError([f"{path}: (file): larger than {MAX_MANIFEST_BYTES // 1024} KB "
                                 f"({path.stat().st_size:,} bytes); a manifest is a page of YAML"])
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError([f"{path}: (file): cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise ManifestError(
            [f"{path}: (file): not UTF-8 text ({exc.reason} at byte {exc.start}); save the file as UTF-8"]
        ) from None
    if "\0" in text:
        before = text[: text.index("\0")]
        raise ManifestError([f"{path}: line {before.count(chr(10)) + 1}, column {len(before) - before.rfind(chr(10))}: "
                             "a NUL byte (\\0); the file is not plain text there"])
    try:
        loader = BoundedLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None and _expanded_size(node) > MAX_VALUES:
                raise ManifestError([f"{path}: (top level): its aliases (*name) expand to more than {MAX_VALUES:,} "
                                     "values; write the values out"])
            raw = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark and context_mark.line != getattr(mark, "line", None):
            problem += f" ({context} at line {context_mark.line + 1})"
        raise ManifestError([f"{path}: {where}: {problem}"]) from None
    if raw is None:
        raise ManifestError([f"{path}: (top level): the file is empty; start from papers/mnist1d/paper.yaml"])
    if not isinstance(raw, dict):
        raise ManifestError([f"{path}: (top level): expected a mapping of fields, got {type(raw).__name__}"])
    return raw


def _expanded_size(root) -> int:
    """How many values a composed YAML document holds once its aliases are expanded, counted
    without expanding them (each node's size is computed once)."""
    import yaml

    def children(node) -> list:
        if isinstance(node, yaml.SequenceNode):
            return node.value
        if isinstance(node, yaml.MappingNode):
            return [part for pair in node.value for part in pair]
        return []

    sizes: dict[int, int] = {}
    order, stack = [], [root]
    while stack:  # every node once, without recursion; then children before parents
        node = stack.pop()
        if id(node) not in sizes:
            sizes[id(node)] = 0
            order.append(node)
            stack += children(node)
    for node in reversed(order):
        sizes[id(node)] = min(1 + sum(sizes[id(child)] for child in children(node)), MAX_VALUES + 1)
    return sizes[id(root)]


_UNION_MEMBERS = {"list[int]": "a list of integers", "int": "an integer", "bool": "true or false",
                  "float": "a number", "str": "a string", "constrained-str": "a string", "none": "null"}


def _pydantic_problems(exc: ValidationError, raw: dict) -> list[tuple[str, str]]:
    """(field, reason) per problem; a value that fits no member of a union is one problem."""
    by_field: dict[str, list[tuple[str | None, dict]]] = {}
    for err in exc.errors():
        name, member = _field_name(err["loc"], raw)
        by_field.setdefault(name, []).append((member, err))
    problems = []
    for name, errors in by_field.items():
        members = [m for m, _ in errors if m]
        if len(errors) > 1 and len(members) == len(errors):
            expected = " or ".join(_UNION_MEMBERS.get(m, m) for m in members)
            problems.append((name, f"expected {expected} (got {_short(errors[0][1]['input'])})"))
        else:
            problems += [(name, _reason(err)) for _, err in errors]
    return problems


def _field_name(loc: tuple, raw: dict) -> tuple[str, str | None]:
    """('claims', 2, 'tolerance') -> 'claims[2] (cnn_test_acc).tolerance'.

    Pydantic adds the member's name ('list[int]', 'int', ...) to the location of a value
    that fails a union; that part is not a field: it is returned apart.
    """
    name, node, member = "", raw, None
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                name += f" ({_id_label(node['id'])})"
        elif name and (not isinstance(node, dict) or (part in _UNION_MEMBERS and part not in node)):
            member = part  # inside a leaf value (or a mapping where a value belongs): a union member's name
        else:
            name += f".{_key(part)}" if name else _key(part)
            node = node.get(part) if isinstance(node, dict) else None
    return name or "(top level)", member


def _key(part) -> str:
    """A field name or id as it is where it is plain (`mode`, `cnn_test_acc`), else quoted and
    shortened: a key of newlines or a megabyte never breaks the one-line problem format."""
    return part if isinstance(part, str) and re.fullmatch(r"[\w-]{1,60}", part) else _short(part)


def _id_label(claim_id: str) -> str:
    """A claim's id beside its index, as written where it prints on one line (its own
    problem, if any, is reported at .id)."""
    return claim_id if claim_id.isprintable() and len(claim_id) <= 60 else _short(claim_id)


def _reason(err: dict) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field (check the spelling; `repro schema` lists the fields)"
    if err["type"] == "missing":
        return "required field is missing"
    message = err["msg"].removeprefix("Value error, ")
    if "input" in err and err["type"] != "value_error":
        message += f" (got {_short(err['input'])})"
    return message


def _short(value: object) -> str:
    """A value in an error message: never more than 60 characters, and never built in full
    (reprlib stops early inside big lists, mappings and strings)."""
    import reprlib

    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = 60
    shortener.maxlist = shortener.maxdict = shortener.maxlevel = 4
    text = shortener.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _cross_checks(raw: dict, folder_name: str) -> list[tuple[str, str]]:
    """Problems that span sections, found on the raw YAML (each check skips malformed parts)."""
    problems = []
    if isinstance(raw.get("id"), str) and raw["id"] != folder_name:
        problems.append(("id", f"{raw['id']!r} differs from the folder name {folder_name!r}; they must match"))
    config = raw.get("config") if isinstance(raw.get("config"), dict) else None
    claims = raw.get("claims") if isinstance(raw.get("claims"), list) else []
    claim_ids = [c.get("id") for c in claims if isinstance(c, dict)]

    seen = set()
    for index, claim in enumerate(claims):
        if not isinstance(claim, dict):
            continue
        label = f"claims[{index}]" + (f" ({_id_label(claim['id'])})" if isinstance(claim.get("id"), str) else "")
        if claim.get("id") is not None and claim.get("id") in seen:
            problems.append((f"{label}.id", "duplicate claim id; each claim needs its own"))
        seen.add(claim.get("id"))
        setting = claim.get("setting")
        if config is not None and isinstance(setting, dict):
            for key in setting:
                if key not in config:
                    problems.append((f"{label}.setting.{_key(key)}", f"not a config key (known: {', '.join(map(_key, config))})"))

    names = [d.get("name") for d in raw.get("data") or [] if isinstance(d, dict)]
    for name in {n for n in names if n is not None and names.count(n) > 1}:
        problems.append(("data", f"two entries are named {name!r}; each data file needs its own name"))

    profiles = raw.get("profiles") if isinstance(raw.get("profiles"), dict) else {}
    for name, profile in profiles.items():
        if not isinstance(profile, dict):
            continue
        if config is not None and isinstance(profile.get("config"), dict):
            for key in profile["config"]:
                if key not in config:
                    problems.append((f"profiles.{_key(name)}.config.{_key(key)}", f"not a config key (known: {', '.join(map(_key, config))})"))
        if isinstance(profile.get("claims"), list):
            for claim_id in profile["claims"]:
                if claim_id not in claim_ids:
                    problems.append((f"profiles.{_key(name)}.claims", f"{_short(claim_id)} is not a claim id of this paper"))
    return problems
