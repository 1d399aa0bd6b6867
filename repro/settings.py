"""repro's own settings, set once for a lab or a project instead of on every command line.

They live in `repro.toml`, or in a `[tool.repro]` table of `pyproject.toml`: a [run] table
(executor, jobs, threads) and one table per executor with options, named after it, holding its
Options model: [slurm] (partition, gpus_per_run, cpus_per_run, mem, time, setup, additional;
repro/execute/slurm.py). `repro config --help` shows an example with every setting.

The first such file from the current folder upwards is used (REPRO_CONFIG names one
directly). The command line wins over the file, and the file over repro's defaults.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from repro.errors import SettingsError, UsageError
from repro.execute import DEFAULT, executor_classes, executor_names
from repro.paths import settings_file_override

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class RunSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    executor: str = DEFAULT
    jobs: Optional[int] = Field(None, ge=1, description="runs at once; local default 1, Slurm default all")
    threads: Optional[int] = Field(None, ge=1, description="torch threads per run; default: the cores shared "
                                   "by the runs at once (Slurm: --cpus-per-run)")

    @field_validator("executor")
    @classmethod
    def _known_executor(cls, value: str) -> str:
        if value not in executor_names():
            raise ValueError(f"{value!r} is not an executor (known: {', '.join(executor_names())})")
        return value


class Settings(BaseModel):
    """[run], and one table per executor that has options ([slurm]), each that executor's Options."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    run: RunSettings = RunSettings()
    executors: dict[str, BaseModel] = Field(default_factory=dict)  # name -> its Options, every one with options
    source: Optional[Path] = Field(None, exclude=True)  # the file they came from, if any

    def options(self, executor: str | None = None) -> BaseModel | None:
        """The options of `executor` (default: the one in force), or None where it has none."""
        return self.executors.get(executor or self.run.executor)

    def overridden(self, **command_line) -> Settings:
        """These settings with the command line's values (those not None) on top.

        Keys are the CLI's: executor, jobs and threads, and each executor's flags (Options fields:
        partition, gpus_per_run, cpus_per_run, mem, time for Slurm); any other is not a setting
        and is left alone (so a command can pass all it parsed).
        """
        given = {key: value for key, value in command_line.items() if value is not None}
        run = {key: given.pop(key) for key in RunSettings.model_fields if key in given}
        chosen = run.get("executor", self.run.executor)
        try:
            executors = {}
            for name, options in self.executors.items():
                fields = {field.alias or key for key, field in type(options).model_fields.items()}
                mine = {key: value for key, value in given.items() if key in fields}
                if mine and name != chosen:
                    flags = ", ".join("--" + key.replace("_", "-") for key in mine)
                    raise UsageError(f"{flags}: for --executor {name}, but the runs go to {chosen}; "
                                     f"add --executor {name}, or leave {flags} out")
                executors[name] = type(options).model_validate({**options.model_dump(by_alias=True), **mine})
            return Settings(run=RunSettings.model_validate({**self.run.model_dump(), **run}),
                            executors=executors, source=self.source)
        except ValidationError as exc:
            error = exc.errors()[0]
            flag = "--" + str(error["loc"][0]).replace("_minutes", "").replace("_", "-")
            reason = error["msg"].removeprefix("Value error, ")
            raise UsageError(f"{flag} {error.get('input')!r}: {reason}") from None

    def describe(self) -> dict:
        return {"file": str(self.source) if self.source else None, "run": self.run.model_dump(),
                **{name: options.model_dump() for name, options in self.executors.items()}}


def default_executor_options() -> dict[str, BaseModel]:
    """Every executor with options, at its defaults."""
    return {name: cls.Options() for name, cls in executor_classes().items() if cls.Options is not None}


def find_settings_file(start: Path | None = None) -> Path | None:
    """$REPRO_CONFIG, else the nearest repro.toml or pyproject.toml with [tool.repro]."""
    named = settings_file_override()
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise SettingsError(f"REPRO_CONFIG={named}: no such file")
        return path
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / "repro.toml").is_file():
            return candidate / "repro.toml"
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and "tool" in (table := _read_toml(pyproject)) and "repro" in table["tool"]:
            return pyproject
    return None


def load_settings(start: Path | None = None) -> Settings:
    """The settings in force here: the file's, over repro's defaults."""
    path = find_settings_file(start)
    executors = default_executor_options()
    if path is None:
        return Settings(executors=executors)
    table = _read_toml(path)
    prefix = ""
    if path.name == "pyproject.toml":
        table, prefix = table.get("tool", {}).get("repro", {}), "tool.repro."
    problems = []

    def collect(exc: ValidationError, section: str) -> None:
        for error in exc.errors():
            field = prefix + ".".join([section, *("time" if part == "time_minutes" else str(part) for part in error["loc"])])
            reason = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                reason = "not a setting (see `repro config --help` for the known ones)"
            problems.append(f"{path}: {field}: {reason}")

    run = RunSettings()
    for section, values in table.items():
        try:
            if section == "run":
                run = RunSettings.model_validate(values)
            elif section in executors:
                executors[section] = type(executors[section]).model_validate(values)
            else:
                problems.append(f"{path}: {prefix}{section}: not a setting (see `repro config --help` for the known ones)")
        except ValidationError as exc:
            collect(exc, section)
    if problems:
        raise SettingsError("\n".join(problems))
    return Settings(run=run, executors=executors, source=path.resolve())


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read it: {exc.strerror}") from None
