"""repro's own settings, set once for a lab or a project instead of on every command line.

They live in `repro.toml`, or in a `[tool.repro]` table of `pyproject.toml`: a [run] table
(executor, jobs) and a [slurm] table (partition, gpus_per_run, cpus_per_run, mem, time, setup,
additional). `repro config --help` shows an example with every setting (cli.CONFIG_EXAMPLE).

The first such file from the current folder upwards is used (REPRO_CONFIG names one
directly). The command line wins over the file, and the file over repro's defaults.
"""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from repro.errors import ReproError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class SettingsError(ReproError):
    """A settings file that cannot be used: which file, which field, and why."""


def parse_mem(text: str) -> str:
    """Slurm's --mem: a number with an optional unit, K, M (the default), G or T."""
    text = str(text).strip().upper()
    if not re.fullmatch(r"[1-9][0-9]*[KMGT]?", text):
        raise ValueError(f"{text!r} is not a memory size like 16G or 4000M")
    return text


def parse_time(text: str | int) -> int:
    """Slurm's --time in whole minutes. Accepts Slurm's formats: MM, MM:SS, HH:MM:SS,
    D-HH, D-HH:MM and D-HH:MM:SS (seconds round up)."""
    text = str(text).strip()
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
    if not match:
        raise ValueError(f"{text!r} is not a time limit like 90, 1:30:00 or 2-00:00:00")
    days, first, second, third = (int(part) if part else None for part in match.groups())
    if days is None:
        if third is not None:  # HH:MM:SS
            hours, minutes, seconds = first, second, third
        else:  # MM or MM:SS
            hours, minutes, seconds = 0, first, second or 0
    else:  # D-HH, D-HH:MM, D-HH:MM:SS
        hours, minutes, seconds = first, second or 0, third or 0
    total = (days or 0) * 1440 + hours * 60 + minutes + math.ceil(seconds / 60)
    if total < 1:
        raise ValueError(f"{text!r}: a time limit must be at least one minute")
    return total


class RunSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    executor: Literal["local", "slurm"] = "local"
    jobs: Optional[int] = Field(None, ge=1, description="runs at once; local default 1, Slurm default all")


class SlurmSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partition: Optional[str] = None
    gpus_per_run: int = Field(0, ge=0)
    cpus_per_run: int = Field(1, ge=1)
    mem: Optional[str] = None
    time_minutes: Optional[int] = Field(None, alias="time")
    setup: list[str] = []
    additional: dict[str, str | int] = {}

    @field_validator("mem", mode="before")
    @classmethod
    def _mem(cls, value):
        return None if value is None else parse_mem(value)

    @field_validator("time_minutes", mode="before")
    @classmethod
    def _time(cls, value):
        return None if value is None else parse_time(value)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: RunSettings = RunSettings()
    slurm: SlurmSettings = SlurmSettings()
    source: Optional[Path] = Field(None, exclude=True)  # the file they came from, if any

    def overridden(self, **command_line) -> Settings:
        """These settings with the command line's values (those not None) on top.

        Keys are the CLI's: executor, jobs, partition, gpus_per_run, cpus_per_run, mem, time.
        """
        given = {key: value for key, value in command_line.items() if value is not None}
        run = {key: given.pop(key) for key in ("executor", "jobs") if key in given}
        try:
            return Settings(
                run=RunSettings.model_validate({**self.run.model_dump(), **run}),
                slurm=SlurmSettings.model_validate({**self.slurm.model_dump(by_alias=True), **given}),
                source=self.source,
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            flag = "--" + str(error["loc"][0]).replace("_minutes", "").replace("_", "-")
            reason = error["msg"].removeprefix("Value error, ")
            raise UsageError(f"{flag} {error.get('input')!r}: {reason}") from None

    def describe(self) -> dict:
        return {"file": str(self.source) if self.source else None, **self.model_dump()}


def find_settings_file(start: Path | None = None) -> Path | None:
    """$REPRO_CONFIG, else the nearest repro.toml or pyproject.toml with [tool.repro]."""
    named = os.environ.get("REPRO_CONFIG")
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
    if path is None:
        return Settings()
    table = _read_toml(path)
    prefix = ""
    if path.name == "pyproject.toml":
        table, prefix = table.get("tool", {}).get("repro", {}), "tool.repro."
    try:
        return Settings(**table, source=path.resolve())
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = prefix + ".".join("time" if part == "time_minutes" else str(part) for part in error["loc"])
            reason = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                reason = "not a setting (see `repro config --help` for the known ones)"
            problems.append(f"{path}: {field}: {reason}")
        raise SettingsError("\n".join(problems)) from None


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read it: {exc.strerror}") from None
