"""The `repro` command line: parses arguments and calls the library. Nothing else lives here.

Start-up stays fast (`repro --help`, `repro list`): torch is imported only by workers.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from repro import __version__
from repro.errors import ManifestError, ReproError

EPILOG = """\
exit codes: 0 every claim REPRODUCED or BETTER; 1 a claim WORSE or INCONCLUSIVE;
            2 usage, manifest or settings error (or Slurm refused the job array);
            3 a run crashed or timed out; 130 Ctrl-C.
environment: REPRO_HOME (records and caches, default ~/.cache/repro),
             REPRO_PAPERS (the catalog folder, default the papers/ beside the package),
             REPRO_DATA_DIR (a folder of pre-seeded data files),
             REPRO_CONFIG (a settings file, instead of the nearest repro.toml; see `repro config`).
offline: the reference code is fetched through git, so a mirror works with
             git config --global url.<mirror>.insteadOf <the manifest's repo URL>
"""


CONFIG_EXAMPLE = """\
example repro.toml (in pyproject.toml, the same tables as [tool.repro.run] and [tool.repro.slurm]):
  [run]
  executor = "slurm"                  # or "local"
  jobs = 8                            # runs at once

  [slurm]
  partition = "gpu"
  gpus_per_run = 1
  cpus_per_run = 8                    # also each run's torch threads
  mem = "32G"
  time = "4:00:00"
  setup = ["module load cuda/12.1"]   # shell lines each job runs first
  additional = { account = "mylab" }  # any other sbatch option
"""


def _slurm_value(parser_name: str):
    """An argparse type from a parser in repro.settings (imported when used, which keeps
    `repro --help` fast): its ValueError becomes argparse's usage error."""

    def convert(text: str):
        from repro import settings

        try:
            return getattr(settings, parser_name)(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parser_name
    return convert


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="repro",
        description="Reproduce ML papers: run the authors' code or a re-implementation, "
        "compare with the numbers the paper reports, and say honestly whether they reproduce.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"repro {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = commands.add_parser("list", help="list the papers in the catalog")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = commands.add_parser("show", help="a paper's metadata, reference, claims, profiles and implementations")
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = commands.add_parser(
        "run",
        help="run a paper's claims and print the verdict table",
        description="Plan the runs (claim settings x seeds), run each in its own worker process, "
        "record them, and compare with the paper's claims.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--impl", default="reimpl", help="implementation: reimpl (default), reference, a student's name, or a .py path")
    p.add_argument("--profile", default="quick", help="quick (default, CI-sized), full (the paper's protocol) or another "
                   "profile of the manifest (`repro show PAPER` lists them, e.g. nanogpt's cpu and gpu)")
    p.add_argument("--seeds", help="a count (3 = seeds 0,1,2) or a list (0,1,2); default: the profile's")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value for every run (repeatable), e.g. --set total_steps=500")
    p.add_argument("--claims", help="comma-separated claim ids to run (default: the profile's, or all)")
    p.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"], help="where to run (default auto)")
    p.add_argument("--jobs", type=int, metavar="N", help="runs at once: local workers (default 1; the cores are shared "
                   "evenly, and where there are several GPUs each run gets one) or Slurm tasks (default: as many as fit)")
    p.add_argument("--timeout", type=float, metavar="S", help="stop a run after S seconds (recorded as timeout)")
    p.add_argument("--executor", choices=["local", "slurm"],
                   help="local (default): worker processes here; slurm: one job array through submitit")
    slurm = p.add_argument_group("Slurm (with --executor slurm; defaults from repro.toml, see `repro config --help`)")
    slurm.add_argument("--partition", metavar="P", help="the partition to submit to (default: the cluster's)")
    slurm.add_argument("--gpus-per-run", type=int, metavar="G", help="GPUs per run (default 0)")
    slurm.add_argument("--cpus-per-run", type=int, metavar="C", help="cores per run, and its torch threads (default 1)")
    slurm.add_argument("--mem", type=_slurm_value("parse_mem"), metavar="M", help="memory per run, e.g. 16G")
    slurm.add_argument("--time", type=_slurm_value("parse_time"), metavar="T",
                       help="time limit per run, in Slurm's formats: 90, 1:30:00, 2-00:00:00 "
                       "(default: from --timeout, else 4x the profile's expected time)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--dry-run", action="store_true", help="print the plan and run nothing")
    p.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="a folder of pre-seeded data files to use instead of downloading (or REPRO_DATA_DIR)")

    p = commands.add_parser(
        "fetch",
        help="bring a paper's reference code (pinned commit) and data files into the cache",
        description="Fetch the authors' repository at the manifest's commit, through git (so "
        "`git config url.<mirror>.insteadOf <url>` applies), and download and verify its data files.",
    )
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="a folder of pre-seeded data files to use instead of downloading (or REPRO_DATA_DIR)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = commands.add_parser(
        "baseline",
        help="run a profile, measure its spread, and store both in baselines/ (what `repro regress` compares with)",
        description="Run the profile on the CPU, one torch thread a run (deterministic on one machine), measure "
        "how far its metrics move over seeds and under this machine's numerics perturbations (as `repro noise` "
        "does), and write baselines/PAPER/IMPL-PROFILE.yml: every run's metrics, the machine's numerics "
        "fingerprint, an exact tolerance (0, for a machine with the same fingerprint) and a portable one "
        "(5 x the measured spread, for any other machine). Commit the file. With --add-machine, keep this "
        "machine's exact numbers beside it instead (one file per fingerprint).",
        epilog="time: about (noise seeds + numerics environments) x the profile's time; mnist1d quick: ~7 min on 2 cores.",
    )
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--impl", default="reimpl", help="implementation (default reimpl)")
    p.add_argument("--profile", default="quick", help="profile (default quick, the one `repro regress` runs)")
    p.add_argument("--noise-seeds", type=int, default=5, metavar="N",
                   help="seeds 0..N-1 for the spread over seeds (default 5)")
    p.add_argument("--no-numerics", action="store_true",
                   help="measure the spread over seeds only, without the numerics perturbations (faster; the "
                   "portable tolerance then assumes another machine moves a number no more than another seed)")
    p.add_argument("--add-machine", action="store_true",
                   help="only this machine's exact numbers, in IMPL-PROFILE.FINGERPRINT.yml beside the baseline "
                   "(one profile run, no measurement): regress then compares this machine type exactly")
    p.add_argument("--json", action="store_true", help="print the baseline as JSON")

    p = commands.add_parser(
        "noise",
        help="how much each metric moves with the seed and with the machine (is a difference real?)",
        description="Run a profile on the CPU over seeds 0..N-1 and under every numerics perturbation this "
        "machine can apply (ATEN_CPU_CAPABILITY, MKL_CBWR, ONEDNN_MAX_CPU_ISA set below the CPU's best, each "
        "standing in for another machine), and print per setting and metric: the mean, the sd over seeds, the "
        "sd over numerics, the portable tolerance `repro regress` would use, and a suggested band for the "
        "paper's claims.",
        epilog="time: about (N + numerics environments) x the profile's time. exit codes: 0 measured; 2 usage "
        "error; 3 a run crashed.",
    )
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--impl", default="reimpl", help="implementation (default reimpl)")
    p.add_argument("--profile", default="quick", help="profile (default quick)")
    p.add_argument("--seeds", type=int, default=5, metavar="N", help="seeds 0..N-1 for the spread over seeds (default 5)")
    p.add_argument("--no-numerics", action="store_true", help="seeds only: skip the numerics perturbations")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = commands.add_parser(
        "regress",
        help="rerun the quick profiles and compare with the stored baselines (CI's regression check)",
        description="For every paper (or those named) and every implementation that runs offline, run "
        "the quick profile and compare each metric with baselines/: PASS, FAIL or IMPROVED. IMPROVED "
        "fails too: a better number must be accepted on purpose, with the command printed.",
        epilog="exit codes: 0 all PASS; 1 a FAIL, IMPROVED or missing baseline; 3 a run crashed.",
    )
    p.add_argument("papers", nargs="*", metavar="PAPER", help="paper ids (default: the whole catalog)")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="machine-readable output")
    output.add_argument("--md", action="store_true", help="markdown, for a CI job summary")

    p = commands.add_parser(
        "diff",
        help="what differs between two runs (metrics, config, environment), or a run and its baseline",
        description="The answer to 'it doesn't reproduce and I don't know why': metric deltas, then "
        "the config keys, spec fields and environment (torch, device, threads, CPU/GPU, reference "
        "commit, data hashes) that differ.",
    )
    p.add_argument("run_a", metavar="RUN_A", help="a run id (a unique prefix is enough)")
    p.add_argument("run_b", metavar="RUN_B", nargs="?", help="another run id")
    p.add_argument("--baseline", action="store_true", help="compare RUN_A with its stored baseline instead")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = commands.add_parser("export", help="a paper's claims and latest results as model-card metadata")
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--format", default="model-index", choices=["model-index"],
                   help="model-index: the Hugging Face model card's front-matter format")
    p.add_argument("--impl", help="only this implementation (a model card describes one model)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of stdout")

    p = commands.add_parser(
        "report",
        help="write a static HTML report: catalog status, verdict tables, curves per claim",
        description="Write DIR/index.html (and its PNG plots) from the recorded runs: the status of "
        "every paper x implementation, each paper's verdict tables, and per claim the curves of every "
        "implementation with the paper's number and tolerance band. No server needed.",
    )
    p.add_argument("papers", nargs="*", metavar="PAPER", help="paper ids (default: the whole catalog)")
    p.add_argument("-o", "--output", type=Path, default=Path("repro-report"), metavar="DIR",
                   help="output folder (default ./repro-report)")

    p = commands.add_parser(
        "check",
        help="check a student's implementation against the reference, stage by stage",
        description="Stages, stopping at the first that fails: interface, structure (shapes and "
        "parameter counts per claim setting), forward (the reference's weights in your model: same "
        "outputs; the first differing layer is named), step (two training steps: same losses and "
        "updates), overfit (one small batch to near-zero loss), quick (the quick profile against the "
        "reference on this machine: its stored baseline where this machine made it, else the reference run now) and, with --full, the paper's claims. Each stage prints what it "
        "compared and, when it fails, the likely causes.",
        epilog="exit codes: 0 every stage passed; 1 a stage failed; 2 usage error.",
    )
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--impl", required=True, help="the student's implementation: a name in students/ or a .py path")
    p.add_argument("--against", default="reimpl", help="the reference implementation (default reimpl)")
    p.add_argument("--full", action="store_true", help="also run the paper's protocol profile (full, or e.g. nanogpt's cpu) against its claims")
    p.add_argument("--stored-baseline", action="store_true",
                   help="quick stage: compare with the reference's stored baseline even when another machine made it "
                   "(faster: the reference is not run; the tolerance is then its measured spread across machines)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = commands.add_parser(
        "new",
        help="start a paper folder, papers/<id>/, from its arXiv id (or offline, from its metadata)",
        description="Write papers/<id>/ (paper.yaml, reference.py, reimpl.py, README.md) with the metadata "
        "filled in and the rest marked TODO; `repro show <id>` then lists what is left. With --title, "
        "--authors and --year nothing is fetched.",
    )
    p.add_argument("arxiv_id", nargs="?", metavar="ARXIV_ID", help="e.g. 2011.14439 (or arXiv:2011.14439v2, an arxiv.org URL)")
    p.add_argument("--id", dest="paper_id", help="the paper id and folder name (default: from the title's first words)")
    p.add_argument("--title", help="the paper's title (offline form)")
    p.add_argument("--authors", help='comma-separated, e.g. "Sam Greydanus, Dmitry Kobak" (offline form)')
    p.add_argument("--year", type=int, help="e.g. 2024 (offline form)")
    p.add_argument("--venue", default="", help="e.g. \"ICML 2024\" (default: arXiv's journal reference, else a TODO)")

    p = commands.add_parser("impl", help="`impl new PAPER --name NAME`: start a student's implementation")
    p.add_argument("action", choices=["new"], help="new: write papers/PAPER/students/NAME.py with TODOs")
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--name", required=True, help="your name, as the implementation's name (e.g. alice)")
    p.add_argument("--path", type=Path, help="write the file here instead of papers/PAPER/students/NAME.py")

    p = commands.add_parser(
        "config",
        help="the settings in force here (executor, jobs, Slurm options) and the file they come from",
        description="repro reads settings from repro.toml, or from a [tool.repro] table in pyproject.toml: the "
        "first found from the current folder upwards (REPRO_CONFIG names a file). Command-line options win.",
        epilog=CONFIG_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = commands.add_parser("runs", help="list recorded runs (queued and running ones too), or `runs show RUN_ID`")
    p.add_argument("args", nargs="*", metavar="PAPER | show RUN_ID")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    commands.add_parser("schema", help="print the JSON Schema of paper.yaml (for editors)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except ManifestError as exc:
        print(f"error: {len(exc.problems)} problem(s) in the manifest:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return exc.exit_code
    except ReproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `repro show PAPER | head`: the reader left early, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 0


def cmd_list(args) -> int:
    from repro import report
    from repro.manifest import load_paper, paper_ids

    summaries, broken = [], 0
    for paper_id in paper_ids():
        try:
            summaries.append(report.paper_summary(load_paper(paper_id)))
        except ManifestError as exc:
            broken += 1
            print(f"error: {paper_id}: {len(exc.problems)} problem(s) in its manifest:", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
    print(report.to_json(summaries) if args.json else report.catalog_table(summaries))
    return 2 if broken else 0


def cmd_show(args) -> int:
    from repro import report
    from repro.manifest import load_paper

    paper = load_paper(args.paper)
    print(report.to_json(report.paper_json(paper)) if args.json else report.paper_details(paper))
    return 0


def cmd_run(args) -> int:
    from repro import report
    from repro.execute import Interrupted
    from repro.manifest import load_paper
    from repro.plan import parse_overrides, parse_seeds
    from repro.run import plan_for, reproduce
    from repro.settings import load_settings

    paper = load_paper(args.paper)
    settings = load_settings().overridden(
        executor=args.executor, jobs=args.jobs, partition=args.partition, gpus_per_run=args.gpus_per_run,
        cpus_per_run=args.cpus_per_run, mem=args.mem, time=args.time,
    )
    options = dict(
        impl=args.impl,
        profile=args.profile,
        seeds=parse_seeds(args.seeds) if args.seeds else None,
        overrides=parse_overrides(args.overrides, paper),
        claim_ids=[c.strip() for c in args.claims.split(",") if c.strip()] if args.claims else None,
        device=args.device,
        jobs=settings.run.jobs,
        timeout_s=args.timeout,
        executor=settings.run.executor,
        slurm=settings.slurm,
    )
    if args.dry_run:
        specs = plan_for(paper, **options)
        print(report.to_json([s.to_dict() for s in specs]) if args.json else report.plan_table(paper, specs))
        return 0
    try:
        outcome = reproduce(paper, show_progress=True, data_dir=args.data_dir, **options)
    except Interrupted as exc:
        print(f"interrupted: {len(exc.records)} unfinished run(s) stopped and recorded as interrupted", file=sys.stderr)
        for record in exc.records:
            print(f"  {record['run_id']}: log {record['log_path']}", file=sys.stderr)
        return 130
    print(report.to_json(report.outcome_json(outcome)) if args.json else report.verdict_table(outcome))
    return outcome.exit_code


def cmd_fetch(args) -> int:
    from repro import report
    from repro.fetch import fetch_inputs
    from repro.manifest import load_paper

    paper = load_paper(args.paper)
    source_dir, data = fetch_inputs(paper, code=True, seed_dir=args.data_dir)
    print(report.to_json(report.fetched_json(paper, source_dir, data)) if args.json
          else report.fetched_text(paper, source_dir, data))
    return 0


def cmd_baseline(args) -> int:
    from repro import report
    from repro.baselines import make_baseline

    made = make_baseline(args.paper, args.impl, args.profile, noise_seeds=args.noise_seeds,
                         numerics=not args.no_numerics, add_machine=args.add_machine, show_progress=True)
    if args.json:
        print(report.to_json(made.data))
    else:
        print(report.baseline_text(made))
    return 0


def cmd_noise(args) -> int:
    from repro import report
    from repro.errors import UsageError
    from repro.manifest import load_paper
    from repro.noise import measure_noise

    paper = load_paper(args.paper)
    if args.profile not in paper.profiles:
        raise UsageError(f"{paper.id} has no profile {args.profile!r} (profiles: {', '.join(paper.profiles)})")
    if args.seeds < 2:
        raise UsageError("--seeds must be at least 2 (a spread needs two values)")
    noise = measure_noise(paper, args.impl, args.profile, seeds=args.seeds, perturb=not args.no_numerics,
                          show_progress=True)
    print(report.to_json(report.noise_json(noise)) if args.json else report.noise_text(noise))
    return 3 if noise.failed else 0


def cmd_regress(args) -> int:
    from repro import report
    from repro.baselines import regress

    regression = regress(args.papers or None, show_progress=True)
    if args.json:
        print(report.to_json(report.regress_json(regression)))
    elif args.md:
        print(report.regress_markdown(regression))
    else:
        print(report.regress_text(regression))
    return regression.exit_code


def cmd_diff(args) -> int:
    from repro import report
    from repro.diff import diff_json, diff_runs, diff_text
    from repro.errors import UsageError
    from repro.records import load_record

    if bool(args.run_b) == args.baseline:
        raise UsageError("give RUN_A and RUN_B, or RUN_A --baseline")
    first = load_record(args.run_a)
    if args.baseline:  # the baseline is the old side: deltas read as "this run minus its baseline"
        from repro.baselines import baseline_as_record

        first, second = baseline_as_record(first), first
    else:
        second = load_record(args.run_b)
    difference = diff_runs(first, second)
    print(report.to_json(diff_json(difference)) if args.json else diff_text(difference))
    return 0


def cmd_export(args) -> int:
    from repro.errors import UsageError
    from repro.export import model_index, to_yaml
    from repro.manifest import load_paper
    from repro.records import list_records

    paper = load_paper(args.paper)
    records = [r for r in list_records(paper.id) if args.impl is None or r["spec"]["impl"] == args.impl]
    data = model_index(paper, records)
    if not data["model-index"]:
        raise UsageError(f"no finished runs of {paper.id}" + (f" with --impl {args.impl}" if args.impl else "")
                         + f" to export; `repro run {paper.id}` first")
    text = to_yaml(data)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text, end="")
    return 0


def cmd_report(args) -> int:
    from repro.html_report import write_report

    index = write_report(args.papers or None, args.output)
    print(f"wrote {index}")
    return 0


def cmd_check(args) -> int:
    from repro import report
    from repro.check import check
    from repro.manifest import load_paper

    paper = load_paper(args.paper)
    stages = check(paper, args.impl, against=args.against, full=args.full, show_progress=not args.json,
                   stored_baseline=args.stored_baseline)
    print(report.to_json([s.to_dict() for s in stages]) if args.json else report.check_text(stages, args.full))
    return 0 if all(stage.passed for stage in stages) else 1


def cmd_new(args) -> int:
    from repro.scaffold import describe_new, start_paper

    folder = start_paper(args.arxiv_id, paper_id=args.paper_id, title=args.title, authors=args.authors,
                         year=args.year, venue=args.venue)
    print(describe_new(folder))
    return 0


def cmd_impl(args) -> int:
    from repro.manifest import load_paper
    from repro.students import new_student_impl

    paper = load_paper(args.paper)
    path = new_student_impl(paper, args.name, args.path)
    impl = args.name if args.path is None else str(path)
    print(f"wrote {path}\nnext: fill in the TODOs, then\n"
          f"    repro check {paper.id} --impl {impl}\n    repro run {paper.id} --impl {impl}")
    return 0


def cmd_runs(args) -> int:
    from repro import records, report
    from repro.errors import UsageError

    if args.args and args.args[0] == "show":
        if len(args.args) != 2:
            raise UsageError("usage: repro runs show RUN_ID")
        record = records.load_record(args.args[1])
        print(report.to_json(record) if args.json else report.record_text(record))
        return 0
    if len(args.args) > 1:
        raise UsageError("usage: repro runs [PAPER] | repro runs show RUN_ID")
    found = records.list_records(args.args[0] if args.args else None)
    print(report.to_json(report.runs_json(found)) if args.json else report.runs_table(found))
    return 0


def cmd_config(args) -> int:
    from repro import report
    from repro.settings import load_settings

    settings = load_settings()
    print(report.to_json(settings.describe()) if args.json else report.settings_text(settings))
    return 0


def cmd_schema(args) -> int:
    import json

    from repro.manifest import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


COMMANDS = {
    "list": cmd_list, "show": cmd_show, "fetch": cmd_fetch, "run": cmd_run, "runs": cmd_runs,
    "baseline": cmd_baseline, "noise": cmd_noise, "regress": cmd_regress, "diff": cmd_diff, "export": cmd_export,
    "report": cmd_report, "check": cmd_check, "impl": cmd_impl, "new": cmd_new, "schema": cmd_schema,
    "config": cmd_config,
}
