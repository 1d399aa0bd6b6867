"""Typed errors. Each carries the exit code the CLI returns and says what to do next."""

from __future__ import annotations


class ReproError(Exception):
    """Base class: a problem the user can act on. The CLI prints it without a traceback."""

    exit_code = 2


class UsageError(ReproError):
    """Bad command-line input: unknown paper, implementation, profile, config key..."""


class ManifestError(ReproError):
    """A paper.yaml with problems; `problems` holds every one as 'file: field: reason'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class RunFailed(ReproError):
    """A run crashed, was killed or timed out; the message names its log file."""

    exit_code = 3
