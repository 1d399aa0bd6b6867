"""Metrics from the authors' printed output: their scripts, or their functions' prints.

Most reference code reports its numbers by printing them. An adapter names the lines it
wants with regular expressions whose named groups are the metrics, and an optional group
`step`:

    r"step (?P<step>\\d+): train loss (?P<train_loss>[\\d.]+), val loss (?P<val_loss>[\\d.]+)"

Every matching line is logged on the run context (curves, progress) and the last value of
each metric is kept. `RunContext.run_script` applies this to a subprocess, and
`RunContext.watch_output` to whatever the adapter's own process prints.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path


class ScriptFailed(RuntimeError):
    """The authors' script exited with an error or ran past its timeout."""


class OutputParser:
    """Feed it lines; it finds the metrics the patterns name and logs them."""

    def __init__(self, patterns: list[str], log: Callable[..., None]):
        self.patterns = [re.compile(p) for p in patterns]
        for pattern in self.patterns:
            if not set(pattern.groupindex) - {"step"}:
                raise ValueError(f"pattern {pattern.pattern!r} names no metric: use (?P<name>...) groups")
        self.log = log
        self.matches = 0
        self.last: dict[str, float] = {}

    def feed(self, line: str) -> None:
        for pattern in self.patterns:
            match = pattern.search(line)
            if not match:
                continue
            groups = {name: value for name, value in match.groupdict().items() if value is not None}
            self.matches += 1
            step = int(groups.pop("step")) if "step" in groups else self.matches
            metrics = {name: float(value) for name, value in groups.items()}
            self.last.update(metrics)
            self.log(step, **metrics)


def run_script(
    args: list[str],
    *,
    cwd: Path,
    parser: OutputParser,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> dict[str, float]:
    """Run a command in `cwd`, copying its output into this worker's log line by line."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
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
    try:
        for line in process.stdout:
            sys.stdout.write(line)
            parser.feed(line)
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
        raise ScriptFailed(f"{' '.join(args)} exited with code {code} (in {cwd}); its output is in the run's log")
    return dict(parser.last)


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
