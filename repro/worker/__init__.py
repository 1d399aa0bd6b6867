"""The worker side: what runs inside each run's own process.

    process.py      seeding, threads, determinism; importing the implementation and calling
                    run(cfg, ctx); result.json or error.json (`python -m repro.worker RUN_DIR`)
    context.py      RunContext, what run(cfg, ctx) receives, and checking what it returns
    scripts.py      metrics from the authors' printed output (ctx.run_script, ctx.watch_output)
    environment.py  the environment fingerprint every record keeps
    numerics.py     the numerics fingerprint (what decides a run's last bits) and the
                    perturbations that emulate another machine
"""

from repro.worker.scripts import NUMBER  # for adapters' patterns: rf"loss (?P<loss>{NUMBER})"

__all__ = ["NUMBER"]
