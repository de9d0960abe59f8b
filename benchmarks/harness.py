"""Timing and statistics for the benchmarks: interleaved paired runs and their medians.

Every comparison runs its variants in rounds. Each round runs every variant once, in
a shuffled order, so that a change in machine load between rounds hits all variants
alike. A figure is then the median over rounds of the per-round difference or ratio
between a variant and its baseline (a paired comparison). Its 95% confidence interval
comes from order statistics, which assume nothing about the distribution of the
samples.
"""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

# Fixed so that two runs shuffle their rounds the same way.
SEED = 20261204


def log(message: str) -> None:
    """Print a progress line on stderr, leaving stdout to the Markdown results."""
    print("[%s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return "%.2f / %.2f / %.2f" % (one, five, fifteen)


def run_interleaved(
    variants: dict[str, Callable[[], Any]], rounds: int, warmup: int = 2
) -> dict[str, list[Any]]:
    """Run each variant once per round in a shuffled order and return its samples.

    Sample ``i`` of every variant comes from round ``i``, so samples can be paired.
    The ``warmup`` rounds run first and are discarded. They write missing .pyc files
    and fill the page cache.
    """
    rng = random.Random(SEED)
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    samples: dict[str, list[Any]] = {name: [] for name in names}
    for _ in range(rounds):
        order = names[:]
        rng.shuffle(order)
        for name in order:
            samples[name].append(variants[name]())
    return samples


def median_with_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """Return the median of ``values`` and a distribution-free 95% interval for it.

    The interval runs between the order statistics at n/2 -+ 0.98 * sqrt(n), the
    normal approximation of the binomial interval for the median. With fewer than
    six values it is the full range.
    """
    ordered = sorted(values)
    count = len(ordered)
    median = statistics.median(ordered)
    if count < 6:
        return median, ordered[0], ordered[-1]
    half_width = 0.98 * math.sqrt(count)
    low = max(0, int(math.floor(count / 2 - half_width)))
    high = min(count - 1, int(math.ceil(count / 2 + half_width)) - 1)
    return median, ordered[low], ordered[high]


def paired_differences(samples: dict[str, list[float]], variant: str, base: str) -> list[float]:
    return [a - b for a, b in zip(samples[variant], samples[base])]


def paired_ratios(samples: dict[str, list[float]], variant: str, base: str) -> list[float]:
    return [a / b for a, b in zip(samples[variant], samples[base])]


def time_process(argv: Sequence[str], env: dict[str, str]) -> float:
    """Run a command to completion and return its wall time in seconds.

    Raises CalledProcessError if the command fails, so that a broken variant
    stops the benchmark instead of timing an error message.
    """
    start = time.perf_counter()
    completed = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise subprocess.CalledProcessError(
            completed.returncode, list(argv), stderr=completed.stderr
        )
    return elapsed


def process_output(argv: Sequence[str], env: dict[str, str], timeout: float = 300) -> str:
    """Run a command and return its stdout; raise with its stderr if it fails."""
    completed = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=timeout
    )
    if completed.returncode != 0:
        raise RuntimeError(
            "command failed with exit status %d: %s\n%s"
            % (completed.returncode, " ".join(argv), completed.stderr)
        )
    return completed.stdout


def verify_start(python: str, env: dict[str, str]) -> None:
    """Raise if ``python -c pass`` writes to stderr, as site does for a failing .pth line.

    Such an interpreter still exits with status 0, and timing it would time an error.
    """
    completed = subprocess.run(
        [python, "-c", "pass"], env=env, capture_output=True, text=True, timeout=60
    )
    if completed.returncode != 0 or completed.stderr:
        raise RuntimeError("%s -c pass failed or wrote to stderr:\n%s" % (python, completed.stderr))


def instruction_count(argv: Sequence[str], env: dict[str, str]) -> int | None:
    """Return the instructions a command executes in user space, or None without valgrind.

    Counted by valgrind's callgrind, which simulates the CPU: the same binary, input
    and environment give the same count whatever else the machine runs, so this
    figure needs no repeats. PYTHONHASHSEED is fixed because hash randomization
    changes the layout of every dict and set, and with it the count.
    """
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    with tempfile.TemporaryDirectory(prefix="loopback-shim-callgrind-") as directory:
        completed = subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                "--callgrind-out-file=%s" % os.path.join(directory, "callgrind.out"),
                *argv,
            ],
            env=dict(env, PYTHONHASHSEED="0"),
            capture_output=True,
            text=True,
            timeout=600,
        )
    match = re.search(r"Collected : (\d+)", completed.stderr)
    if completed.returncode != 0 or match is None:
        raise RuntimeError(
            "callgrind failed with exit status %d: %s\n%s"
            % (completed.returncode, " ".join(argv), completed.stderr[-2000:])
        )
    return int(match.group(1))


def instruction_counts(
    commands: dict[Any, tuple[Sequence[str], dict[str, str]]],
) -> dict[Any, int | None]:
    """Count the instructions of several commands at once, one per CPU.

    The counts do not depend on what else runs, so counting in parallel changes
    nothing but the time the section takes.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = {
            key: pool.submit(instruction_count, argv, env) for key, (argv, env) in commands.items()
        }
        return {key: future.result() for key, future in futures.items()}


def format_instructions(added: int | None, base: int | None) -> str:
    """Format an added instruction count in millions, with its share of ``base``."""
    if added is None or base is None:
        return "-"
    return "%+.2f M (%+.1f%%)" % (added / 1e6, 100.0 * added / base)


def format_ms(seconds: float) -> str:
    return "%.2f" % (seconds * 1e3)


def format_ms_ci(values: Sequence[float]) -> str:
    """Format the median of durations in ms with its 95% interval."""
    median, low, high = median_with_ci(values)
    return "%+.2f [%+.2f, %+.2f]" % (median * 1e3, low * 1e3, high * 1e3)


def format_ratio_ci(ratios: Sequence[float]) -> str:
    """Format the median of ratios as a percentage change with its 95% interval."""
    median, low, high = median_with_ci(ratios)
    return "%+.1f%% [%+.1f, %+.1f]" % ((median - 1) * 100, (low - 1) * 100, (high - 1) * 100)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Return a Markdown table; columns after the first two are right-aligned."""
    align = ["---" if index < 2 else "---:" for index in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)
