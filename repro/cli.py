"""The `repro` command line: finds the subcommand in repro/commands/, parses, and calls it.

Nothing else lives here. Start-up stays fast (`repro --help`, `repro list`): only the chosen
command's arguments are built, and torch is imported only by workers.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from repro import __version__
from repro.commands import EPILOG, command, command_names
from repro.errors import Interrupted, ManifestError, ReproError, Stopped, signal_name


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The parser; every command is listed, and `chosen` (or, with None, every command) gets
    its arguments."""
    parser = argparse.ArgumentParser(
        prog="repro",
        description="Reproduce ML papers: run the authors' code or a re-implementation, "
        "compare with the numbers the paper reports, and say honestly whether they reproduce.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"repro {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_names():
        module = command(name)
        if chosen is None or name == chosen:
            module.add_arguments(subparsers.add_parser(name, **module.PARSER))
        else:
            subparsers.add_parser(name, help=module.PARSER.get("help"), add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line: parse, run the command, and turn every error the user can act on
    (and Ctrl-C, SIGTERM, SIGHUP, from the first moment) into a message and an exit code."""
    previous = _stop_on_terminating_signals()
    try:
        return _parse_and_run(sys.argv[1:] if argv is None else argv)
    except ManifestError as exc:
        print(f"error: {len(exc.problems)} problem(s) in the manifest:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return exc.exit_code
    except Interrupted as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code
    except ReproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:  # before any run started (a batch turns it into Interrupted)
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"interrupted by {signal_name(signum)}", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:  # `repro show PAPER | head`: the reader left early, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 0
    except OSError as exc:  # a disk problem under REPRO_HOME that appeared mid-way (full, read-only)
        from repro.paths import home_problem

        problem = home_problem(exc)
        if problem is None:
            raise
        print(f"error: {problem}", file=sys.stderr)
        return 2
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _parse_and_run(argv: list[str]) -> int:
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    parser = build_parser(chosen if chosen in command_names() else "")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return command(args.command).handle(args)


def _stop_on_terminating_signals() -> dict:
    """Ctrl-C, SIGTERM and SIGHUP stop a command with a Stopped exception (a KeyboardInterrupt,
    so that what cleans up after Ctrl-C runs), and it exits 130, 143 or 129. Returns the
    handlers it replaced.

    Ctrl-C too, not Python's own KeyboardInterrupt: CPython 3.11 remembers a KeyboardInterrupt
    of exactly that class raised inside exec() of a string (dataclasses and pydantic build
    methods that way while they are imported) and, even though it was caught here, ends the
    process by SIGINT at exit (-2) instead of with the 130 returned."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def stop(signum, frame):
        raise Stopped(signum)

    return {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
