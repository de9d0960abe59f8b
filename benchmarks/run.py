"""Run the loopback-shim benchmarks and print the results as Markdown.

    python benchmarks/run.py                      # every section, a few minutes
    python benchmarks/run.py --quick              # fewer rounds, for a smoke run
    python benchmarks/run.py --only decision      # one section (repeatable)
    python benchmarks/run.py --update BENCHMARKS.md

``--update`` replaces the generated blocks of a Markdown file, each between
``<!-- generated: NAME -->`` and ``<!-- end generated: NAME -->``, and leaves the
rest of the file alone. Only the standard library runs in this process; clients and
the shim run in venvs built for the run under a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import decision
import end_to_end
import first_import
import startup
import wrapt_comparison
from harness import load_average, log
from venvs import Workspace, pyenv_pythons, python_version

SECTIONS: dict[str, Callable[[Workspace, bool], str]] = {
    "startup": startup.run,
    "first-import": first_import.run,
    "decision": decision.run,
    "end-to-end": end_to_end.run,
    "wrapt": wrapt_comparison.run,
}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_block(command: str, started: float, sections: dict[str, str]) -> str:
    pythons = ", ".join(python_version(python) for python in pyenv_pythons())
    lines = [
        "- Date: %s" % time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(started)),
        "- CPU: %s, %d logical cores (`os.cpu_count()`)" % (cpu_model(), os.cpu_count() or 0),
        "- OS: %s %s" % (platform.system(), platform.release()),
        "- Harness and client venvs: Python %s; start-up venvs: %s"
        % (platform.python_version(), pythons),
        "- Command: `%s`, %.0f s in all, sections: %s"
        % (command, time.time() - started, ", ".join(sections)),
        "- Load average (1, 5, 15 min) at the end: %s" % load_average(),
    ]
    return "\n".join(lines) + "\n"


def update_generated_blocks(path: Path, blocks: dict[str, str]) -> None:
    """Replace each generated block of ``path`` that ``blocks`` has a new text for."""
    text = path.read_text()
    for name, body in blocks.items():
        opening = "<!-- generated: %s -->\n" % name
        closing = "<!-- end generated: %s -->" % name
        match = re.search(re.escape(opening) + ".*?" + re.escape(closing), text, re.DOTALL)
        if match is None:
            raise SystemExit(
                "%s has no generated block %r: add the lines %r and %r where it belongs"
                % (path, name, opening.strip(), closing)
            )
        text = text[: match.start()] + opening + body + closing + text[match.end() :]
    path.write_text(text)


def run_section(name: str, workspace: Workspace, quick: bool) -> str:
    load_before = load_average()
    started = time.time()
    log("section %s: load average %s" % (name, load_before))
    body = SECTIONS[name](workspace, quick)
    footer = "\n_Load average (1, 5, 15 min): %s before, %s after; %.0f s._\n" % (
        load_before,
        load_average(),
        time.time() - started,
    )
    return body + footer


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="run fewer rounds (a smoke run)")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(SECTIONS),
        metavar="SECTION",
        help="run only this section; repeatable (%s)" % ", ".join(SECTIONS),
    )
    parser.add_argument(
        "--update", type=Path, metavar="FILE", help="replace the generated blocks of FILE"
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        metavar="DIR",
        help="build the venvs in DIR and keep them after the run (default: a temporary "
        "directory); an earlier run's venvs there are rebuilt",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    command = shlex.join(["python", "benchmarks/run.py", *argv])
    started = time.time()
    names = arguments.only or list(SECTIONS)
    update = arguments.update.resolve() if arguments.update is not None else None
    blocks: dict[str, str] = {}
    original_cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="loopback-shim-bench-") as temporary:
        work_dir = (arguments.work_dir or Path(temporary)).resolve()
        work_dir.mkdir(parents=True, exist_ok=True)
        # Every child starts in the work directory. "python -c" and "python -S" put
        # the current directory first on sys.path, and from the checkout that finds
        # its sitecustomize.py and loopback_shim package, which would activate the
        # shim in the venvs that must run without it.
        os.chdir(work_dir)
        try:
            workspace = Workspace(work_dir)
            for name in names:
                blocks[name] = run_section(name, workspace, arguments.quick)
        finally:
            os.chdir(original_cwd)
    blocks["machine"] = machine_block(command, started, blocks)

    for name in ["machine", *names]:
        print("<!-- %s -->\n%s" % (name, blocks[name]))
    if update is not None:
        update_generated_blocks(update, blocks)
        log("updated %s" % update)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
