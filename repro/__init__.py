"""repro: reproduce machine-learning papers and say honestly whether they reproduce.

The public API (imported when first used, so `import repro` stays fast):

    reproduce(paper, impl=, profile=, seeds=, ...) -> Outcome   `repro run` as one call (run.py)
    load_paper(paper_id) -> Paper                               a validated manifest (catalog/)
    Paper, Claim                                                the manifest's models
    RunSpec                                                     one planned run (plan.py)
    RunContext                                                  what run(cfg, ctx) gets (worker/context.py)
"""

__version__ = "0.1.0"

_PUBLIC = {
    "reproduce": "repro.run",
    "Outcome": "repro.run",
    "load_paper": "repro.catalog",
    "Paper": "repro.catalog",
    "Claim": "repro.catalog",
    "RunSpec": "repro.plan",
    "RunContext": "repro.worker.context",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'repro' has no attribute {name!r}")
