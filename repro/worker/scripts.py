"""Metrics from the authors' printed output: their scripts, or their functions' prints.

Most reference code reports its numbers by printing them. An adapter names the lines it
wants with regular expressions whose named groups are the metrics, and an optional group
`step`:

    r"step (?P<step>\\d+): train loss (?P<train_loss>[\\d.]+), val loss (?P<val_loss>[\\d.]+)"

Every matching line is logged on the run context (curves, progress); a line without a
`step` group is logged at the last step seen (a "Validation loss" line after an "Epoch 3"
line belongs to epoch 3). The last value of each metric is kept, and every value in order
(`history`), for metrics like the best validation loss. `RunContext.run_script` applies this to a subprocess, and
`RunContext.watch_output` to whatever the adapter's own process prints.

Numbers in real output come as 8.52, -0.3, 3.6e-02, 1e+03, nan or inf: write a metric's
group as (?P<name>{NUMBER}) in an f-string (`from repro.worker import NUMBER`), and every
one of them is read.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from repro.errors import ScriptFailed

# A number as scripts print it: signs, decimals, exponents, nan and inf (float() reads all).
NUMBER = r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|NaN|inf|Inf)"
_TAIL_LINES = 40


class Reading(NamedTuple):
    """One value of a metric: at which step, and how many seconds after parsing began."""

    step: int
    value: float
    seconds: float


class OutputParser:
    """Feed it lines; it finds the metrics the patterns name and logs them."""

    def __init__(self, patterns: list[str], log: Callable[..., None]):
        self.patterns = [re.compile(p) for p in patterns]
        for pattern in self.patterns:
            if not set(pattern.groupindex) - {"step"}:
                raise ValueError(f"pattern {pattern.pattern!r} names no metric: use (?P<name>...) groups")
        self.log = log
        self.matches = 0
        self.step: int | None = None
        self.history: dict[str, list[Reading]] = {}
        self.started = time.monotonic()

    @property
    def last(self) -> dict[str, float]:
        """The last value of each metric seen."""
        return {name: readings[-1].value for name, readings in self.history.items()}

    def feed(self, line: str) -> None:
        for pattern in self.patterns:
            match = pattern.search(line)
            if not match:
                continue
            groups = {name: value for name, value in match.groupdict().items() if value is not None}
            self.matches += 1
            if "step" in groups:
                self.step = int(groups.pop("step"))
            step = self.step if self.step is not None else self.matches
            metrics = {name: float(value) for name, value in groups.items()}
            seconds = time.monotonic() - self.started
            for name, value in metrics.items():
                self.history.setdefault(name, []).append(Reading(step, value, seconds))
            if metrics:
                self.log(step, **metrics)


class ScriptMetrics(dict):
    """The last value of each metric (a plain dict), plus `history`: every Reading (step, value,
    seconds since the script started) the output gave for each metric, in order."""

    def __init__(self, parser: OutputParser):
        super().__init__(parser.last)
        self.history = {name: list(values) for name, values in parser.history.items()}

    def best(self, name: str, direction: str = "lower") -> Reading:
        """The reading with the best value of a metric: lowest, or highest with direction='higher'
        (the first such reading where several tie)."""
        if name not in self.history:
            raise KeyError(f"the output never gave {name!r} (metrics seen: {', '.join(self.history) or 'none'})")
        pick = min if direction == "lower" else max
        return pick(self.history[name], key=lambda reading: reading.value)


def run_script(
    args: list[str],
    *,
    cwd: Path,
    parser: OutputParser,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    threads: int | None = None,
) -> ScriptMetrics:
    """Run a command in `cwd`, copying its output into this worker's log line by line.

    `threads` caps the script's torch/OpenMP threads (OMP_NUM_THREADS, MKL_NUM_THREADS), so
    that parallel runs share the cores the way the plan says; `env` can still override it.
    """
    from repro.worker.numerics import thread_env

    caps = thread_env(threads) if threads else {}
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **caps, **(env or {})}
    print(f"$ (cd {cwd} && {' '.join(args)})", flush=True)
    process = subprocess.Popen(
        args, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1,
    )
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        process.kill()

    timer = threading.Timer(timeout, stop) if timeout else None
    if timer:
        timer.start()
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    try:
        for line in process.stdout:
            sys.stdout.write(line)
            parser.feed(line)
            tail.append(line.rstrip("\n"))
        code = process.wait()
    finally:
        if timer:
            timer.cancel()
        if process.poll() is None:
            process.kill()
    sys.stdout.flush()
    if timed_out.is_set():
        raise ScriptFailed(f"{' '.join(args)} ran past its {timeout:g} s timeout (in {cwd})")
    if code != 0:
        why = last_exception(list(tail))
        raise ScriptFailed(f"{_script_name(args)} exited with code {code}" + (f": {why}" if why else "")
                           + f" (in {cwd}; its whole output is in the run's log)")
    return ScriptMetrics(parser)


def last_exception(lines: list[str]) -> str | None:
    """The exception a Python traceback ends with ('ModuleNotFoundError: No module named
    'autograd''), or else the last line printed; None for no output."""
    lines = [line for line in lines if line.strip()]
    if not lines:
        return None
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if starts:
        after = [line for line in lines[starts[-1] + 1:] if not line.startswith((" ", "\t"))]
        if after:
            return after[-1].strip()[:500]
    return lines[-1].strip()[:500]


def _script_name(args: list[str]) -> str:
    """The script of a command line: 'train.py' of [python, -u, /x/train.py, --lr, 1]."""
    scripts = [arg for arg in args[1:] if arg.endswith(".py")]
    return Path(scripts[0]).name if scripts else " ".join(args)[:200]


class TeeLines(io.TextIOBase):
    """A stand-in for sys.stdout that passes text through and feeds whole lines to a parser."""

    def __init__(self, stream, parser: OutputParser):
        self.stream, self.parser, self.pending = stream, parser, ""

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.parser.feed(line)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()
