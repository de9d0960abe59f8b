"""Section 2: what the shim adds to the first import of each target module.

Each sample is a fresh interpreter that times ``import TARGET`` with perf_counter
and process_time, so it includes the import hook, the patch modules the hook loads
and the patching itself. Both venvs run the harness Python with the same client
wheels. For the targets in COUNTED_TARGETS, callgrind also counts the instructions
of ``import TARGET`` minus those of ``pass``, in each venv, once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from harness import (
    format_instructions,
    format_ms,
    format_ms_ci,
    format_ratio_ci,
    instruction_counts,
    load_average,
    log,
    median_with_ci,
    paired_differences,
    paired_ratios,
    process_output,
    run_interleaved,
)
from harness import markdown_table as table
from venvs import CLIENTS, Venv, Workspace, clean_environ

TARGETS = ["urllib.request", "requests", "urllib3", "httpx", "aiohttp"]
# Counting under callgrind runs about 50 times slower than the import itself: the
# smallest target, where the shim's share is largest, and the most used one.
COUNTED_TARGETS = ["urllib.request", "requests"]
IMPORT_CODE = (
    "import time; t=time.perf_counter(); c=time.process_time(); import %s; "
    "print(time.perf_counter()-t, time.process_time()-c)"
)
ROUNDS = 60
QUICK_ROUNDS = 6


def import_runner(venv: Venv, target: str) -> Callable[[], tuple[float, float]]:
    argv = [venv.python, "-c", IMPORT_CODE % target]
    env = clean_environ()

    def measure() -> tuple[float, float]:
        wall, cpu = process_output(argv, env).split()
        return float(wall), float(cpu)

    return measure


def import_instructions(stock: Venv, shim: Venv) -> dict[str, tuple[int | None, int | None]]:
    """Return, per counted target, the instructions ``import TARGET`` adds to
    ``python -c pass`` in the stock venv and in the shim venv."""
    env = clean_environ()
    commands: dict[Any, tuple[Sequence[str], dict[str, str]]] = {}
    for venv in (stock, shim):
        commands[(venv.path.name, "pass")] = ([venv.python, "-c", "pass"], env)
        for target in COUNTED_TARGETS:
            commands[(venv.path.name, target)] = ([venv.python, "-c", "import %s" % target], env)
    counts = instruction_counts(commands)

    def added(venv: Venv, target: str) -> int | None:
        with_import, without = counts[(venv.path.name, target)], counts[(venv.path.name, "pass")]
        return None if with_import is None or without is None else with_import - without

    return {target: (added(stock, target), added(shim, target)) for target in COUNTED_TARGETS}


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
    pairs = run_interleaved(variants, rounds)
    samples = {key: [wall for wall, _ in values] for key, values in pairs.items()}
    cpu = {key: [cpu for _, cpu in values] for key, values in pairs.items()}
    log("first import: counting instructions")
    counted = import_instructions(stock, shim)

    rows = []
    for target in TARGETS:
        stock_key, shim_key = "stock " + target, "shim " + target
        stock_median = median_with_ci(samples[stock_key])[0]
        added = paired_differences(samples, shim_key, stock_key)
        budget = budget_seconds(stock_median)
        within = median_with_ci(added)[0] <= budget
        stock_count, shim_count = counted.get(target, (None, None))
        added_count = None
        if stock_count is not None and shim_count is not None:
            added_count = shim_count - stock_count
        rows.append([
            "`%s`" % target,
            format_ms(stock_median),
            format_ms(median_with_ci(samples[shim_key])[0]),
            format_ms_ci(added),
            format_ratio_ci(paired_ratios(samples, shim_key, stock_key)),
            format_ms_ci(paired_differences(cpu, shim_key, stock_key)),
            format_instructions(added_count, stock_count),
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
        "Added CPU (ms)",
        "Added instructions",
        "Budget (ms)",
        "Within budget",
    ]
    note = (
        "Python %s with %s; %d interleaved rounds; medians of paired differences and ratios "
        "with their 95%% interval. Budget: 2%% of the stock import or 2 ms, whichever is "
        "larger, for the wall-time median. CPU: the process's CPU time over the import. "
        "Instructions: callgrind's count for `python -c 'import TARGET'` minus that for "
        "`python -c pass`, once per venv with PYTHONHASHSEED=0, for %s only; the share is "
        "of the stock count."
        % (stock.version, versions, rounds, " and ".join("`%s`" % t for t in COUNTED_TARGETS))
    )
    return table(header, rows) + "\n\n" + note + "\n"
