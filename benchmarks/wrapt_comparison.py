"""Section 5: the same patches applied by a naive wrapt-based .pth, side by side.

The naive design imports wrapt at start-up and registers a post-import hook for each
target, and each hook applies loopback-shim's own patches. Its venvs hold the shim's
package without the shim's .pth and .start files, so only the activation differs.
All four variants run interleaved in the same rounds.
"""

from __future__ import annotations

from collections.abc import Callable

from harness import (
    format_ms,
    format_ms_ci,
    load_average,
    log,
    markdown_table,
    median_with_ci,
    paired_differences,
    process_output,
    run_interleaved,
    time_process,
    verify_start,
)
from startup import SITE_MAIN_CODE
from venvs import WRAPT_1, WRAPT_2, Venv, Workspace, clean_environ

# The naive activation: a .pth line imports this module, which imports wrapt and
# registers one post-import hook per target. A .pth line cannot hold it itself,
# because site runs the line with exec() in a function, where a name the line
# imports is invisible to a lambda or comprehension on the same line.
NAIVE_WRAPT_MODULE = """\
import wrapt


def make_hook(name):
    def hook(module):
        from loopback_shim import _patching

        _patching.apply(name, module)

    return hook


for target in ("urllib.request", "requests", "urllib3", "httpx", "aiohttp"):
    wrapt.register_post_import_hook(make_hook(target), target)
"""
NAIVE_WRAPT_PTH = "import naive_wrapt_shim\n"
# Fails unless the patches were applied, so that no broken variant is timed.
PATCHED_CHECK_CODE = (
    "import sys, requests; assert all(getattr(f, '__loopback_shim__', False) for f in "
    "(sys.modules['urllib.request'].proxy_bypass, requests.utils.select_proxy))"
)
IMPORT_CODE = "import time; t=time.perf_counter(); import requests; print(time.perf_counter()-t)"
MODULE_COUNT_CODE = "import sys; print(len(sys.modules))"
ROUNDS = 12
QUICK_ROUNDS = 4


def naive_wrapt_venv(workspace: Workspace, name: str, requirement: str) -> Venv:
    wrapt_wheel = workspace.wrapt_wheel(requirement, name)
    install = [*workspace.client_wheels(), str(workspace.wheel), wrapt_wheel]
    venv = workspace.venv("clients-" + name, workspace.harness_python, install)
    for start_file in ("loopback_shim.pth", "loopback_shim.start"):
        (venv.site_packages / start_file).unlink(missing_ok=True)
    (venv.site_packages / "naive_wrapt_shim.py").write_text(NAIVE_WRAPT_MODULE)
    (venv.site_packages / "naive_wrapt_shim.pth").write_text(NAIVE_WRAPT_PTH)
    return venv


def runners(venv: Venv) -> dict[str, Callable[[], object]]:
    env = clean_environ()
    wall_argv = [venv.python, "-c", "pass"]
    site_argv = [venv.python, "-S", "-c", SITE_MAIN_CODE]

    def site_main() -> tuple[float, float]:
        wall, cpu = process_output(site_argv, env).split()
        return float(wall), float(cpu)

    import_argv = [venv.python, "-c", IMPORT_CODE]
    return {
        "wall": lambda: time_process(wall_argv, env),
        "site": site_main,
        # The import alone, timed inside the process, and the whole process.
        "import": lambda: float(process_output(import_argv, env)),
        "process": lambda: time_process([venv.python, "-c", "import requests"], env),
    }


def module_count(venv: Venv) -> int:
    return int(process_output([venv.python, "-c", MODULE_COUNT_CODE], clean_environ()))


def run(workspace: Workspace, quick: bool) -> str:
    rounds = QUICK_ROUNDS if quick else ROUNDS
    variants = {
        "not installed": workspace.stock_clients(),
        "loopback-shim": workspace.shim_clients(),
        "wrapt 1.x": naive_wrapt_venv(workspace, "wrapt1", WRAPT_1),
        "wrapt 2.x": naive_wrapt_venv(workspace, "wrapt2", WRAPT_2),
    }
    labels = {
        "not installed": "not installed",
        "loopback-shim": "loopback-shim (lazy, standard library only)",
        "wrapt 1.x": "naive `.pth`, wrapt %s" % variants["wrapt 1.x"].package_version("wrapt"),
        "wrapt 2.x": "naive `.pth`, wrapt %s" % variants["wrapt 2.x"].package_version("wrapt"),
    }
    for name, venv in variants.items():
        verify_start(venv.python, clean_environ())
        if name != "not installed":
            process_output([venv.python, "-c", PATCHED_CHECK_CODE], clean_environ())
    measured: dict[str, Callable[[], object]] = {}
    for name, venv in variants.items():
        for kind, runner in runners(venv).items():
            measured[kind + " | " + name] = runner
    log("wrapt comparison: %d rounds, load %s" % (rounds, load_average()))
    raw = run_interleaved(measured, rounds)
    # Split each site.main() sample (wall, CPU) into two series.
    samples: dict[str, list[float]] = {}
    for key, values in raw.items():
        if key.startswith("site | "):
            samples[key] = [value[0] for value in values]
            samples["cpu" + key[4:]] = [value[1] for value in values]
        else:
            samples[key] = values

    base = "not installed"
    base_modules = module_count(variants[base])
    rows = []
    for name, venv in variants.items():
        row: list[object] = [labels[name]]
        for kind in ("wall", "site", "cpu"):
            if name == base:
                row.append(format_ms(median_with_ci(samples[kind + " | " + name])[0]) + " (base)")
            else:
                differences = paired_differences(samples, kind + " | " + name, kind + " | " + base)
                row.append(format_ms_ci(differences))
        row.append("%+d" % (module_count(venv) - base_modules) if name != base else base_modules)
        for kind in ("import", "process"):
            row.append(format_ms(median_with_ci(samples[kind + " | " + name])[0]))
        rows.append(row)
    header = [
        "Activation",
        "Added wall time, `-c pass` (ms)",
        "Added `site.main()` (ms)",
        "Added `site.main()` CPU (ms)",
        "Modules after start-up",
        "First `import requests` (ms)",
        "Whole `python -c 'import requests'` (ms)",
    ]
    note = (
        "Python %s with the same client wheels in every venv; %d interleaved rounds. Added "
        "times are medians of paired differences against the venv without any shim, with "
        "their 95%% interval. Import times are medians and include applying the patches. "
        "With wrapt, start-up has already imported part of what requests needs (wrapt 2.x "
        "imports asyncio and inspect), which the first import then skips. "
        "The naive `.pth` file holds `%s` and that module is:\n\n```python\n%s```"
        % (variants[base].version, rounds, NAIVE_WRAPT_PTH.strip(), NAIVE_WRAPT_MODULE)
    )
    return markdown_table(header, rows) + "\n\n" + note + "\n"
