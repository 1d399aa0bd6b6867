"""`repro noise`."""

from __future__ import annotations

PARSER = dict(
    help="how much each metric moves with the seed and with the machine (is a difference real?)",
    description="Run a profile on the CPU over seeds 0..N-1 and under every numerics perturbation this "
        "machine can apply (ATEN_CPU_CAPABILITY, MKL_CBWR, ONEDNN_MAX_CPU_ISA set below the CPU's best, each "
        "standing in for another machine), and print per setting and metric: the mean, the sd over seeds, the "
        "sd over numerics, the portable tolerance `repro regress` would use, and a suggested band for the "
        "paper's claims.",
    epilog="time: about (N + numerics environments) x the profile's time. exit codes: 0 measured; 2 usage "
        "error; 3 a run crashed.",
)


def add_arguments(p) -> None:
    p.add_argument("paper", help="paper id, e.g. mnist1d")
    p.add_argument("--impl", default="reimpl", help="implementation (default reimpl)")
    p.add_argument("--profile", default="quick", help="profile (default quick)")
    p.add_argument("--seeds", type=int, default=5, metavar="N", help="seeds 0..N-1 for the spread over seeds (default 5)")
    p.add_argument("--no-numerics", action="store_true", help="seeds only: skip the numerics perturbations")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def handle(args) -> int:
    from repro.render import text as render
    from repro.errors import UsageError
    from repro.catalog import load_paper
    from repro.noise import measure_noise

    paper = load_paper(args.paper)
    if args.profile not in paper.profiles:
        raise UsageError(f"{paper.id} has no profile {args.profile!r} (profiles: {', '.join(paper.profiles)})")
    if args.seeds < 2:
        raise UsageError("--seeds must be at least 2 (a spread needs two values)")
    noise = measure_noise(paper, args.impl, args.profile, seeds=args.seeds, perturb=not args.no_numerics,
                          show_progress=True)
    print(render.to_json(render.noise_json(noise)) if args.json else render.noise_text(noise))
    return 3 if noise.failed else 0

