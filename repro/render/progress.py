"""Progress of a batch of runs on stderr: which run, which step, the latest metric.

On a terminal it is a live display (rich), one bar per running worker; elsewhere (CI
logs, pipes) it prints one plain line when a run starts and one when it ends.
"""

from __future__ import annotations

import sys

from repro.plan import RunSpec


class Progress:
    def __init__(self, total_runs: int, enabled: bool = True, show_impl: bool = False, show_keys: list[str] = ()):
        self.total_runs = total_runs
        self.show_impl = show_impl  # a batch of two implementations (repro check's quick stage, repro compare)
        self.show_keys = list(show_keys)  # config keys that differ between the runs (repro sweep's grid)
        self.enabled = enabled
        self.live = enabled and sys.stderr.isatty()
        self._tasks: dict[int, int] = {}
        self._labels: dict[int, str] = {}
        self._bar = None
        self._states_task: int | None = None
        self._last_states = ""
        if self.live:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[latest]}"),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()

    def label(self, index: int, spec: RunSpec) -> str:
        impl = f"{spec.impl}, " if self.show_impl else ""
        numerics = "".join(f", {name}={value}" for name, value in spec.env.items())
        keys = "".join(f", {key}={spec.config.get(key)}" for key in self.show_keys)
        return f"run {index}/{self.total_runs} ({impl}{spec.setting_label}{keys}, seed {spec.seed}{numerics})"

    def note(self, text: str) -> None:
        """A line for the user, above the live display."""
        if self.live:
            self._bar.console.print(text, highlight=False, markup=False)
        elif self.enabled:
            print(text, file=sys.stderr, flush=True)

    def states(self, text: str, done: int) -> None:
        """How the runs stand in a queue (Slurm's), e.g. "3 queued, 2 running, 1 done"; shown when it changes."""
        if text == self._last_states:
            return
        self._last_states = text
        if self.live:
            if self._states_task is None:
                self._states_task = self._bar.add_task(text, total=self.total_runs, latest="")
            self._bar.update(self._states_task, description=text, completed=done)
        elif self.enabled:
            print(text, file=sys.stderr, flush=True)

    def started(self, index: int, spec: RunSpec) -> None:
        self._labels[index] = self.label(index, spec)
        if self.live:
            self._tasks[index] = self._bar.add_task(self._labels[index], total=None, latest="starting")
        elif self.enabled:
            print(f"{self._labels[index]} started", file=sys.stderr, flush=True)

    def event(self, index: int, event: dict) -> None:
        if not self.live or index not in self._tasks:
            return
        task = self._tasks[index]
        if event.get("event") == "expect_steps":
            self._bar.update(task, total=event["total"])
        elif event.get("event") == "log":
            latest = "  ".join(f"{name} {value:.4g}" for name, value in event["metrics"].items())
            self._bar.update(task, completed=event["step"], latest=latest)

    def finished(self, index: int, record) -> None:  # a repro.records.Record
        label = self._labels.get(index, f"run {index}/{self.total_runs}")
        if record.status == "ok":
            metrics = "  ".join(f"{name} {value:.4g}" for name, value in record.metrics.items())
            line = f"{label} done in {record.duration_s:.1f} s: {metrics}"
        else:
            line = f"{label} {record.status}: {record.error}  full log: {record.log_path}"
        if self.live:
            self._bar.remove_task(self._tasks.pop(index))
            self._bar.console.print(line, highlight=False, markup=False)
        elif self.enabled:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
