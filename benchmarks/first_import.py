"""Section 2: what the shim adds to the first import of each target module.

Each sample is a fresh interpreter that times ``import TARGET`` with perf_counter,
so it includes the import hook, the patch modules the hook loads and the patching
itself. Both venvs run the harness Python with the same client wheels.
"""

from __future__ import annotations

from collections.abc import Callable

from harness import (
    format_ms,
    format_ms_ci,
    format_ratio_ci,
    load_average,
    log,
    median_with_ci,
    paired_differences,
    paired_ratios,
    reported_seconds,
    run_interleaved,
)
from harness import markdown_table as table
from venvs import CLIENTS, Venv, Workspace, clean_environ

TARGETS = ["urllib.request", "requests", "urllib3", "httpx", "aiohttp"]
IMPORT_CODE = (
    "import time; t=time.perf_counter(); import %s; print(time.perf_counter()-t)"
)
ROUNDS = 20
QUICK_ROUNDS = 6


def import_runner(venv: Venv, target: str) -> Callable[[], float]:
    argv = [venv.python, "-c", IMPORT_CODE % target]
    env = clean_environ()
    return lambda: reported_seconds(argv, env)


def budget_seconds(stock_median: float) -> float:
    """Return the allowed added time: 2% of the stock import or 2 ms, the larger."""
    return max(0.02 * stock_median, 0.002)


def run(workspace: Workspace, quick: bool) -> str:
    rounds = QUICK_ROUNDS if quick else ROUNDS
    stock = workspace.stock_clients()
    shim = workspace.shim_clients()
    variants = {}
    for target in TARGETS:
        variants["stock " + target] = import_runner(stock, target)
        variants["shim " + target] = import_runner(shim, target)
    log("first import: %d rounds, load %s" % (rounds, load_average()))
    samples = run_interleaved(variants, rounds)

    rows = []
    for target in TARGETS:
        stock_key, shim_key = "stock " + target, "shim " + target
        stock_median = median_with_ci(samples[stock_key])[0]
        added = paired_differences(samples, shim_key, stock_key)
        budget = budget_seconds(stock_median)
        within = median_with_ci(added)[0] <= budget
        rows.append([
            "`%s`" % target,
            format_ms(stock_median),
            format_ms(median_with_ci(samples[shim_key])[0]),
            format_ms_ci(added),
            format_ratio_ci(paired_ratios(samples, shim_key, stock_key)),
            format_ms(budget),
            "yes" if within else "**no**",
        ])
    versions = ", ".join(
        "%s %s" % (name, stock.package_version(name)) for name in CLIENTS
    )
    header = [
        "Target",
        "Stock (ms)",
        "Shim (ms)",
        "Added (ms)",
        "Added (%)",
        "Budget (ms)",
        "Within budget",
    ]
    note = (
        "Python %s with %s; %d interleaved rounds; medians of paired differences and ratios "
        "with their 95%% interval. Budget: 2%% of the stock import or 2 ms, whichever is larger."
        % (stock.version, versions, rounds)
    )
    return table(header, rows) + "\n\n" + note + "\n"
