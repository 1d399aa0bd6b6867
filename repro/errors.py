"""Every error repro raises on purpose, in one place.

Each says what went wrong and what to do next, and carries the exit code the CLI returns
(`exit_code` on the class). The CLI prints them without a traceback; anything else that
escapes is a bug in repro and keeps its traceback.

    ReproError (2)                      a problem the user can act on
    ├── UsageError (2)                  bad command-line input: unknown paper, profile, config key...
    │   └── PaperExists (2)             `repro new` never overwrites a paper folder
    ├── ManifestError (2)               a paper.yaml with problems, every one as 'file: field: reason'
    ├── SettingsError (2)               a repro.toml / [tool.repro] that cannot be used
    ├── HomeUnusable (2)                REPRO_HOME is a file, read-only, unwritable or on a full disk
    ├── SlurmError (2)                  Slurm cannot be used from here, or refused the job array
    ├── ArxivError (2)                  arXiv answered, but not with the paper
    │   └── ArxivUnreachable (2)        arXiv could not be reached; the message gives the offline form
    ├── RunFailed (3)                   a run crashed, was killed or timed out; names its log file
    │   └── ScriptFailed (3)            (in a worker) the authors' script failed or ran past its timeout
    ├── FetchError (3)                  the reference code could not be fetched
    │   ├── CheckoutChanged (3)         a cached checkout is no longer the pinned commit as fetched
    │   └── RequirementsError (3)       the authors' requirements could not be installed
    ├── DataError (3)                   a data file could not be had: every mirror failed or served wrong bytes
    │   └── UnsafeArchive (3)           an archive member would land outside its folder
    └── Interrupted (130, 143, 129)     Ctrl-C, SIGTERM or SIGHUP: the unfinished runs were stopped and
                                        recorded as interrupted; the exit code is 128 + the signal's number

    Stopped (a KeyboardInterrupt)       not a ReproError: a signal that stops the harness (SIGINT,
                                        SIGTERM, SIGHUP), raised where the harness can stop cleanly
"""

from __future__ import annotations


class ReproError(Exception):
    """Base class: a problem the user can act on. The CLI prints it without a traceback."""

    exit_code = 2


class UsageError(ReproError):
    """Bad command-line input: unknown paper, implementation, profile, config key..."""


class PaperExists(UsageError):
    """papers/<id>/ exists already: `repro new` never overwrites."""


class ManifestError(ReproError):
    """A paper.yaml with problems; `problems` holds every one as 'file: field: reason'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class SettingsError(ReproError):
    """A settings file that cannot be used: which file, which field, and why."""


class HomeUnusable(ReproError):
    """REPRO_HOME cannot take repro's records and caches: a file, read-only, unwritable, full."""


class SlurmError(ReproError):
    """Slurm cannot be used from here, or refused the job array."""


class ArxivError(ReproError):
    """arXiv answered, but not with the paper: unknown id, an error entry, a malformed feed."""


class ArxivUnreachable(ArxivError):
    """arXiv could not be reached (network, timeout, server error); the message gives the offline form."""


class RunFailed(ReproError):
    """A run crashed, was killed or timed out; the message names its log file."""

    exit_code = 3


class ScriptFailed(RunFailed):
    """The authors' script exited with an error or ran past its timeout (raised in the worker,
    where it fails the run with the log's tail)."""


class FetchError(ReproError):
    """The reference code could not be fetched (network, mirror, missing commit)."""

    exit_code = 3


class CheckoutChanged(FetchError):
    """A cached checkout's HEAD moved or its files changed after it was fetched and verified:
    it is refused (runs would name the pinned commit without running it)."""


class RequirementsError(FetchError):
    """The paper's environment for the authors' requirements could not be built (pip failed)."""


class DataError(ReproError):
    """A data file could not be had: every mirror failed or served the wrong bytes."""

    exit_code = 3


class UnsafeArchive(DataError):
    """An archive member would land outside the target folder (or is a link or device)."""


class Stopped(KeyboardInterrupt):
    """A signal asked the harness to stop: Ctrl-C (SIGINT), SIGTERM (`timeout`, systemd, a
    scheduler) or SIGHUP (the terminal or ssh session closed). A KeyboardInterrupt, so that
    everything that cleans up after Ctrl-C cleans up after the others too."""

    def __init__(self, signum: int = 2):
        self.signum = signum
        super().__init__(signal_name(signum))


def signal_name(signum: int) -> str:
    import signal

    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


class Interrupted(ReproError):
    """Ctrl-C, SIGTERM or SIGHUP: the running workers were stopped and recorded as interrupted
    (`records`); the exit code is the shell's for that signal, 128 + its number."""

    exit_code = 130

    def __init__(self, records: list, signum: int = 2):
        self.records = records  # repro.records.Record
        self.signum = signum
        self.exit_code = 128 + signum
        lines = [f"interrupted by {signal_name(signum)}: {len(records)} unfinished run(s) stopped and recorded as interrupted"]
        lines += [f"  {record.run_id}: log {record.log_path}" for record in records]
        super().__init__("\n".join(lines))
