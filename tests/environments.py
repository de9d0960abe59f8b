"""Real interpreters for the tests: fresh venvs with and without the shim installed.

Packages come from the machine's configured indexes through the test runner's own
pip (``pip --python``), so a venv needs no pip of its own and builds in seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
INJECT_DIR = REPO / "loopback_shim" / "_inject"

# Variables that would make a subprocess's result depend on the caller's shell.
_SCRUBBED_PREFIXES = ("LOOPBACK_SHIM_", "PYTHON", "PIP_", "VIRTUAL_ENV")


def is_proxy_variable(name: str) -> bool:
    return name.lower().endswith("_proxy")


def clean_environ(**overrides: str) -> dict[str, str]:
    """Return os.environ without proxy, Python and shim variables, plus ``overrides``."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not is_proxy_variable(key) and not key.startswith(_SCRUBBED_PREFIXES)
    }
    environ.update(overrides)
    return environ


def proxy_environ(proxy_url: str, no_proxy: str | None = None, **overrides: str) -> dict[str, str]:
    """Return a clean environment with every proxy variable pointing at ``proxy_url``."""
    variables = {}
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        variables[name] = proxy_url
        variables[name.upper()] = proxy_url
    if no_proxy is not None:
        variables["NO_PROXY"] = no_proxy
    variables.update(overrides)
    return clean_environ(**variables)


def run_pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=600)


def build_wheel(out_dir: Path) -> Path:
    run_pip("wheel", "--no-deps", "-w", str(out_dir), str(REPO))
    (wheel,) = out_dir.glob("loopback_shim-*.whl")
    return wheel


class Interpreter:
    """A Python executable and the helpers to run code in it."""

    def __init__(self, python: Path) -> None:
        self.python = Path(python)

    @property
    def site_packages(self) -> Path:
        code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        output = subprocess.run(
            [str(self.python), "-c", code], check=True, capture_output=True, text=True,
            env=clean_environ(),
        ).stdout
        return Path(output.strip())

    def run(
        self,
        args: list[str],
        env: dict[str, str] | None = None,
        timeout: float = 120,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [str(self.python), *args],
            env=clean_environ() if env is None else env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(REPO / "tests"),
        )
        if check and completed.returncode != 0:
            raise AssertionError(
                "interpreter failed with exit status %d\nstdout:\n%s\nstderr:\n%s"
                % (completed.returncode, completed.stdout, completed.stderr)
            )
        return completed

    def run_json(self, args: list[str], env: dict[str, str] | None = None, **kwargs: Any) -> Any:
        completed = self.run(args, env=env, **kwargs)
        return json.loads(completed.stdout.strip().splitlines()[-1])


def make_venv(path: Path, packages: list[str], python: str = sys.executable) -> Interpreter:
    """Create a venv at ``path`` without pip and install ``packages`` into it."""
    subprocess.run(
        [python, "-m", "venv", "--without-pip", str(path)], check=True, timeout=300,
        env=clean_environ(),
    )
    interpreter = Interpreter(path / "bin" / "python")
    if packages:
        run_pip("--python", str(interpreter.python), "install", *packages)
    return interpreter
