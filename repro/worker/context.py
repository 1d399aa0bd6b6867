"""RunContext: what an implementation's `run(cfg, ctx)` gets besides its config.

The implementation interface, one for the authors' code (through an adapter), the
project's re-implementation and a student's:

    def run(cfg: dict, ctx: RunContext) -> dict[str, float]:
        '''Train/evaluate once with cfg and ctx.seed; return the final metrics.'''

    def build_model(cfg: dict) -> torch.nn.Module:   # optional, used by the checks

    def run_seeds(cfg: dict, contexts: list[RunContext]) -> list[dict[str, float]]:
        '''Optional (--vectorize-seeds): train one model per context at once, each from its
        own seed (ctx.reseed() before building it); return their metrics, in order.'''
"""

from __future__ import annotations

import json
import math
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


@dataclass
class RunContext:
    seed: int
    device: str  # "cpu" or "cuda", already resolved from "auto"
    work_dir: Path  # this run's own folder: checkpoints, scratch files
    cache_dir: Path  # shared by every run of this paper: generated data, downloads
    threads: int  # torch's intra-op threads in this worker
    reference_commit: str = ""  # the manifest's pinned commit: what source_dir holds
    source_dir: Path | None = None  # the authors' checkout (reference adapters only)
    environment: Path | None = None  # the paper's environment for the authors' requirements, if any
    data: dict[str, Path] = field(default_factory=dict)  # fetched data files, by name
    _events: IO[str] | None = field(default=None, repr=False)

    def log(self, step: int, **metrics: float) -> None:
        """Record metrics at a step: they become the run's curves and drive the progress display."""
        values = {name: float(value) for name, value in metrics.items()}
        self._emit({"event": "log", "step": int(step), "metrics": values})

    def reseed(self) -> None:
        """Seed python, numpy and torch with this run's seed, as the worker does before run():
        run_seeds (--vectorize-seeds) calls it before building each seed's model, so that each
        starts from the weights its one-seed run would."""
        from repro.worker.process import seed_everything

        seed_everything(self.seed)

    def expect_steps(self, total: int) -> None:
        """Say how many steps the run will take, so progress can show 'step 1200/6000'."""
        self._emit({"event": "expect_steps", "total": int(total)})

    def import_source(self, path: str | Path, name: str):
        """Import one of the authors' files (a path inside source_dir) as the module `name`,
        a name of our own (theirs, like `train`, are often generic). It stays importable under
        that name (sys.modules), and never touches the checkout.

        The checkout's root goes on sys.path (first), so the authors' packages import as they
        do in their repository (`from mnist1d.data import ...`); while the file's top level
        runs, its own folder is first too, so `from utils import ...` finds the file beside it.
        """
        from repro.worker.imports import import_file

        if self.source_dir is None:
            raise RuntimeError("ctx.import_source: this run has no source_dir (only --impl reference gets the checkout)")
        if str(self.source_dir) not in sys.path:
            sys.path.insert(0, str(self.source_dir))
        return import_file(self.source_dir / path, name, register=True)

    @property
    def python(self) -> str:
        """The interpreter for the authors' scripts: [ctx.python, "train.py", ...]. The paper's
        environment's, when the harness lacks some of the manifest's requirements (it sees the
        harness's packages too); else the one running this worker."""
        if self.environment is not None:
            return str(self.environment / "bin" / "python")
        return sys.executable

    def run_script(
        self,
        args: list[str],
        *,
        cwd: Path,
        patterns: list[str],
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ):
        """Run one of the authors' scripts (script-style adapters) and return the last value
        of each metric its output matched, as a dict whose `.history` holds every value and
        whose `.best(name)` gives the best one (repro.scripts.ScriptMetrics).

        Output goes into this run's log line by line; each line matching one of `patterns`
        (regexes whose named groups are metrics, plus an optional `step`) is logged as
        ctx.log(step, ...). The script gets ctx.threads threads (OMP_NUM_THREADS), like the
        worker itself. A non-zero exit or the timeout raises ScriptFailed, which fails the run
        with the log's tail.
        """
        from repro.worker.scripts import OutputParser, run_script

        return run_script(args, cwd=cwd, parser=OutputParser(patterns, self.log), env=env, timeout=timeout,
                          threads=self.threads)

    @contextmanager
    def watch_output(self, patterns: list[str]):
        """Parse what this process prints inside the block (import-style adapters calling the
        authors' functions); yields the parser, whose `.last` holds the last value of each metric."""
        from repro.worker.scripts import OutputParser, TeeLines

        parser = OutputParser(patterns, self.log)
        real = sys.stdout
        sys.stdout = TeeLines(real, parser)
        try:
            yield parser
        finally:
            sys.stdout = real

    def _emit(self, event: dict) -> None:
        if self._events is None:
            return
        event["time"] = time.time()
        line = json.dumps(event, allow_nan=True)
        self._events.write(line + "\n")
        self._events.flush()


def check_metrics(metrics: object) -> dict[str, float]:
    """run() must return {name: number}; say exactly what is wrong otherwise."""
    if not isinstance(metrics, dict):
        raise TypeError(f"run() must return a dict of metric name -> number, got {type(metrics).__name__}")
    checked = {}
    for name, value in metrics.items():
        if not isinstance(name, str):
            raise TypeError(f"run() returned a metric name {name!r} that is not a string")
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        if isinstance(value, (bool, str, bytes)):
            raise TypeError(f"run() returned metric {name!r} = {shown}, which is not a number")
        try:
            number = float(value)  # ints, floats, numpy and 0-d torch numbers
        except (TypeError, ValueError):
            raise TypeError(f"run() returned metric {name!r} = {shown}, which is not a number") from None
        if math.isnan(number):
            raise ValueError(f"run() returned metric {name!r} = nan (did training diverge?)")
        if math.isinf(number):
            raise ValueError(f"run() returned metric {name!r} = {number} (did training diverge, or divide by zero?)")
        checked[name] = number
    return checked
