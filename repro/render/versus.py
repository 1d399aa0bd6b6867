"""Text renderings of `repro compare` (versus.Versus) and `repro sweep` (sweep.Sweep)."""

from __future__ import annotations

from tabulate import tabulate

from repro.compare import summarize

from repro.render.text import failure, significant, signed


def spread_text(stats) -> str:
    """'mean ± sd (n=...)'."""
    if stats.sd is None:
        return f"{significant(stats.mean)} (n=1)"
    return f"{significant(stats.mean)} ± {significant(stats.sd, 3)} (n={stats.n})"


def _interval(d) -> str:
    if d.ci_low is None:
        return "-"
    return f"{signed(d.ci_low)} to {signed(d.ci_high)}"


def _p(d) -> str:
    return "-" if d.p_value is None else f"{d.p_value:.2g}"


def versus_text(result) -> str:
    a, b = result.impl_a, result.impl_b
    rows = []
    for row in result.rows:
        d = row.difference
        name = row.metric + ("*" if row.primary else "")
        if d is None:
            rows.append([row.setting, name, "-", "-", "-", "-", "-", row.sentence])
            continue
        rows.append([row.setting, name, spread_text(d.a), spread_text(d.b), signed(d.mean), _interval(d), _p(d), d.test])
    seeds = result.seeds
    lines = [
        f"{result.paper.title} ({result.paper.id}): {a} (A) vs {b} (B), profile {result.profile}, "
        f"seeds {seed_text(seeds, count=True)}" + (f", {result.rounds} rounds" if result.rounds > 1 else "")
        + ("".join(f", {k}={v}" for k, v in result.overrides.items())),
        tabulate(rows, headers=["setting", "metric", f"A: {a}", f"B: {b}", "A - B", "95% CI of A - B", "p", "test"],
                 disable_numparse=True),
        "* a claim's metric: what the exit code and --until-decided go by. paired t: both ran the same seeds; "
        "the interval is of the mean per-seed difference.",
    ]
    lines.append("")
    for row in result.rows:
        if row.primary or (row.difference is not None and row.difference.decided and row.difference.test != "identical"):
            lines.append(f"{row.setting}, {row.metric}: {row.sentence}.")
    if result.stopped_because:
        lines.append(f"--until-decided stopped: {result.stopped_because}.")
    for record in result.failed:
        lines.append(f"run {record.run_id} {failure(record)}")
    if result.saved:
        lines.append(f"saved: {result.saved} (runs: `repro runs {result.paper.id}`)")
    return "\n".join(lines)


def seed_text(seeds: list[int], count: bool = False) -> str:
    """'0-4' (with count: '0-4 (5)') for a run of seeds, else '0,2,7'."""
    ordered = sorted(seeds)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]}-{ordered[-1]}" + (f" ({len(ordered)})" if count else "")
    return ",".join(map(str, ordered))


def sweep_text(result) -> str:
    keys = list(result.grid)
    lines = [f"{result.paper.title} ({result.paper.id}): sweep of {result.impl}, profile {result.profile}, "
             f"seeds {seed_text(result.seeds, count=True)}, {len(result.records)} runs"
             + "".join(f", {k}={v}" for k, v in result.overrides.items())]
    for row in result.rows:
        claim = row.claim
        table = []
        for rank, ranked in enumerate(row.ranked, 1):
            values = list(ranked.values.values())
            if not values:
                measured, versus = "no result", "-"
            else:
                measured = spread_text(summarize(values))
                d = ranked.versus_best
                versus = "best" if rank == 1 else (
                    "-" if d is None else f"{signed(d.mean)} ({_interval(d)}, p {_p(d)})")
            table.append([rank, *(ranked.point[k] for k in keys), measured, versus])
        lines += ["", f"{claim.id} ({claim.setting_label}, {claim.metric}, {claim.direction} is better; "
                      f"the paper reports {significant(claim.reported)})",
                  tabulate(table, headers=["rank", *keys, f"{claim.metric} mean ± sd", "- best (95% CI, p)"],
                           disable_numparse=True),
                  row.sentence + "."]
    for record in result.failed:
        lines.append(f"run {record.run_id} {failure(record)}")
    if result.saved:
        lines.append(f"saved: {result.saved} (runs: `repro runs {result.paper.id}`)")
    return "\n".join(lines)
