"""Section 1: what the shim adds to the start-up of every interpreter.

Each pyenv CPython from 3.9 up gets five small venvs: one without the shim and one
with the shim installed from its wheel. Two references show what any start-up hook
costs: a ``.pth`` file with ``import os``, and a ``.pth`` file that imports an empty
module. The fifth has no shim but a dummy ``sitecustomize`` in site-packages, which
the PYTHONPATH mode must run after its own; a directory on PYTHONPATH with an empty
``sitecustomize`` is the PYTHONPATH mode's reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import (
    format_instructions,
    format_ms,
    format_ms_ci,
    instruction_counts,
    load_average,
    log,
    median_with_ci,
    paired_differences,
    process_output,
    run_interleaved,
    time_process,
    verify_start,
)
from harness import markdown_table as table
from venvs import Venv, Workspace, clean_environ, proxy_environ, pyenv_pythons

# The site.main() figure: wall time by perf_counter, and the process's CPU time,
# which does not grow while the process waits for a CPU on a shared machine.
SITE_MAIN_CODE = (
    "import time; t=time.perf_counter(); c=time.process_time(); import site; site.main(); "
    "print(time.perf_counter()-t, time.process_time()-c)"
)
MODULES_CODE = "import sys; print('\\n'.join(sorted(sys.modules)))"
DUMMY_SITECUSTOMIZE = '"""A sitecustomize that the PYTHONPATH mode must still run."""\n'
# The reference for the PYTHONPATH mode: a directory on PYTHONPATH whose sitecustomize
# does nothing, not even run the one it shadows.
EMPTY_SITECUSTOMIZE = '"""A sitecustomize that does nothing."""\n'
# The reference for the cost of any .pth file with an import line: site reads and
# decodes the file (3.13 imports the utf-8-sig codec for it) and runs the line.
FLOOR_PTH = "import os\n"
# The reference for the cost of a .pth file that imports one module of its own: the
# least that any design with a start-up module can cost.
EMPTY_MODULE_PTH = "import empty_start_module\n"
EMPTY_MODULE = '"""An empty module, imported at start-up by a .pth file."""\n'
# A closed port: start-up never connects, the variable only has to be set.
UNUSED_PROXY = "http://127.0.0.1:9"

ROUNDS = 40
QUICK_ROUNDS = 10


@dataclass
class Mode:
    """One way to start an interpreter, compared with the baseline it is paired with."""

    label: str
    venv: Venv
    env: dict[str, str]
    baseline: str | None = None
    budget_ms: float | None = None
    # What the shim may add to sys.modules beyond what site loads for any .pth file.
    shim_modules: frozenset[str] = frozenset({"_loopback_shim_boot"})


def budget_active_ms(version: str) -> float:
    minor = int(version.split(".")[1])
    return 1.5 if minor >= 13 else 1.0


def build_modes(workspace: Workspace, python: Path) -> dict[str, Mode]:
    tag = python.parent.parent.name  # "3.11.7" in ~/.pyenv/versions/3.11.7/bin/python3
    bare = workspace.venv("startup-%s-bare" % tag, python, [])
    shim = workspace.venv("startup-%s-shim" % tag, python, [str(workspace.wheel)])
    floor = workspace.venv("startup-%s-floor" % tag, python, [])
    (floor.site_packages / "floor.pth").write_text(FLOOR_PTH)
    empty = workspace.venv("startup-%s-empty-module" % tag, python, [])
    (empty.site_packages / "empty_start_module.py").write_text(EMPTY_MODULE)
    (empty.site_packages / "empty_start_module.pth").write_text(EMPTY_MODULE_PTH)
    chain = workspace.venv("startup-%s-chain" % tag, python, [])
    (chain.site_packages / "sitecustomize.py").write_text(DUMMY_SITECUSTOMIZE)
    inject_dir = shim.site_packages / "loopback_shim" / "_inject"
    empty_inject_dir = chain.path / "empty-inject"
    empty_inject_dir.mkdir(exist_ok=True)
    (empty_inject_dir / "sitecustomize.py").write_text(EMPTY_SITECUSTOMIZE)

    active = budget_active_ms(shim.version)
    clean = clean_environ()
    proxied = proxy_environ(UNUSED_PROXY)
    return {
        "not installed": Mode("not installed", bare, clean),
        "active": Mode("installed, active", shim, clean, "not installed", active),
        "disabled": Mode(
            "installed, LOOPBACK_SHIM_DISABLE=1",
            shim,
            clean_environ(LOOPBACK_SHIM_DISABLE="1"),
            "not installed",
            0.8,
            frozenset(),
        ),
        "floor": Mode("reference: a `.pth` file with `import os`", floor, clean, "not installed"),
        "empty module": Mode(
            "reference: a `.pth` file that imports an empty module", empty, clean, "not installed"
        ),
        "not installed, proxy": Mode("not installed, proxy variables set", bare, proxied),
        "active, proxy": Mode(
            "installed, active, proxy variables set", shim, proxied, "not installed, proxy", active
        ),
        "sitecustomize": Mode("not installed, dummy sitecustomize", chain, clean),
        "pythonpath": Mode(
            "PYTHONPATH mode, chaining to the dummy sitecustomize",
            chain,
            clean_environ(PYTHONPATH=str(inject_dir)),
            "sitecustomize",
            active,
        ),
        "pythonpath floor": Mode(
            "reference: PYTHONPATH with an empty `sitecustomize.py`, no chaining",
            chain,
            clean_environ(PYTHONPATH=str(empty_inject_dir)),
            "sitecustomize",
        ),
    }


def loaded_modules(mode: Mode) -> set[str]:
    output = process_output([mode.venv.python, "-c", MODULES_CODE], mode.env)
    return set(output.split())


def wall_runner(mode: Mode) -> Callable[[], float]:
    argv = [mode.venv.python, "-c", "pass"]
    return lambda: time_process(argv, mode.env)


def site_main_runner(mode: Mode) -> Callable[[], tuple[float, float]]:
    argv = [mode.venv.python, "-S", "-c", SITE_MAIN_CODE]

    def measure() -> tuple[float, float]:
        wall, cpu = process_output(argv, mode.env).split()
        return float(wall), float(cpu)

    return measure


def measure_python(python: Path, workspace: Workspace, rounds: int) -> list[list[object]]:
    """Time every mode on one Python in interleaved rounds and return the table rows."""
    modes = build_modes(workspace, python)
    variants: dict[str, Callable[[], Any]] = {}
    for key, mode in modes.items():
        verify_start(mode.venv.python, mode.env)
        variants["wall " + key] = wall_runner(mode)
        variants["site " + key] = site_main_runner(mode)
    version = modes["active"].venv.version
    log("start-up on Python %s: %d rounds, load %s" % (version, rounds, load_average()))
    samples = run_interleaved(variants, rounds)
    for key in modes:
        pairs = samples.pop("site " + key)
        samples["site " + key] = [wall for wall, _ in pairs]
        samples["cpu " + key] = [cpu for _, cpu in pairs]

    modules = {key: loaded_modules(mode) for key, mode in modes.items()}
    log("start-up on Python %s: counting instructions" % version)
    counts = instruction_counts(
        {key: ([mode.venv.python, "-c", "pass"], mode.env) for key, mode in modes.items()}
    )
    # Modules that site loads for any .pth file are not the shim's doing.
    pth_modules = modules["floor"] - modules["not installed"]
    rows = []
    for key, mode in modes.items():
        if mode.baseline is None:
            continue
        figures = {
            kind: paired_differences(samples, kind + " " + key, kind + " " + mode.baseline)
            for kind in ("wall", "site", "cpu")
        }
        added = sorted(modules[key] - modules[mode.baseline])
        shim_added = set(added) - pth_modules
        if mode.budget_ms is None:
            within = "-"
        else:
            within_time = all(
                median_with_ci(figures[kind])[0] * 1e3 <= mode.budget_ms
                for kind in ("wall", "site")
            )
            within = "yes" if within_time and shim_added == mode.shim_modules else "**no**"
        rows.append([
            version,
            mode.label,
            format_ms(median_with_ci(samples["wall " + mode.baseline])[0]),
            format_ms_ci(figures["wall"]),
            format_ms_ci(figures["site"]),
            format_ms_ci(figures["cpu"]),
            format_instructions(
                _difference(counts[key], counts[mode.baseline]), counts[mode.baseline]
            ),
            "%.1f" % mode.budget_ms if mode.budget_ms is not None else "-",
            within,
            ", ".join("`%s`" % name for name in added) or "none",
        ])
    return rows


def _difference(count: int | None, base: int | None) -> int | None:
    return None if count is None or base is None else count - base


def run(workspace: Workspace, quick: bool) -> str:
    rounds = QUICK_ROUNDS if quick else ROUNDS
    rows: list[list[object]] = []
    for python in pyenv_pythons():
        rows.extend(measure_python(python, workspace, rounds))
    header = [
        "Python",
        "Mode",
        "Baseline `-c pass` (ms)",
        "Added wall time (ms)",
        "Added `site.main()` (ms)",
        "Added `site.main()` CPU (ms)",
        "Added instructions, `-c pass`",
        "Budget (ms)",
        "Within budget",
        "Added modules",
    ]
    note = (
        "%d interleaved rounds per Python; each figure is the median of the paired "
        "differences with its 95%% interval. The budget applies to the wall time and the "
        "`site.main()` medians, and the shim may add exactly one module besides those that "
        "site loads for any `.pth` file (see the reference row), and none with "
        "LOOPBACK_SHIM_DISABLE=1. Instructions: one run "
        "of `python -c pass` per mode under valgrind's callgrind with PYTHONHASHSEED=0, "
        "which counts the same on a busy machine as on a quiet one; the share is of the "
        "baseline's count, and the figure includes interpreter shutdown." % rounds
    )
    return table(header, rows) + "\n\n" + note + "\n"
