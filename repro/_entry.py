"""The `repro` console script's entry point, before anything else is imported.

Importing the command line takes a few tens of milliseconds; a Ctrl-C, SIGTERM or SIGHUP in
that window would print a KeyboardInterrupt traceback (or end silently) instead of the one
line and the shell's exit code (130, 143, 129) the rest of a command gives. Nothing has
started yet, so leaving at once is right; repro.cli.main installs its own handlers.
"""

import signal
import sys

_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}


def _leave(signum, frame):
    print(f"interrupted by {_NAMES[signum]}", file=sys.stderr)
    raise SystemExit(128 + signum)


def main() -> int:
    for signum in _NAMES:
        signal.signal(signum, _leave)
    from repro.cli import main as cli_main

    return cli_main()  # which puts its own handlers in place of these, and these back at its end
