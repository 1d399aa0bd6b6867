"""`repro baseline`."""

from __future__ import annotations

PARSER = dict(
    help="run a profile, measure its spread, and store both in baselines/ (what `repro regress` compares with)",
    description="Run the profile on the CPU, one torch thread a run (deterministic on one machine), measure "
        "how far its metrics move over seeds and under this machine's numerics perturbations (as `repro noise` "
        "does), and write baselines/PAPER/IMPL-PROFILE.yml: every run's metrics, the machine's numerics "
        "fingerprint, an exact tolerance (0, for a machine with the same fingerprint) and a portable one "
        "(5 x the measured spread, for any other machine). Commit the file. With --add-machine, keep this "
        "machine's exact numbers beside it instead (one file per fingerprint).",
    epilog="time: about (noise seeds + numerics environments) x the profile's time; mnist1d quick: ~7 min on 2 cores.",
)


def add_arguments(p) -> None:
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


def handle(args) -> int:
    from repro.render import text as render
    from repro.baselines import make_baseline

    made = make_baseline(args.paper, args.impl, args.profile, noise_seeds=args.noise_seeds,
                         numerics=not args.no_numerics, add_machine=args.add_machine, show_progress=True)
    if args.json:
        print(render.to_json(made.data))
    else:
        print(render.baseline_text(made))
    return 0

