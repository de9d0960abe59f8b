"""The interpreters the benchmarks compare: fresh venvs, built once per run.

Each venv is created with ``python -m venv --without-pip`` and filled by the harness
interpreter's pip (``pip --python VENV/bin/python install``), so that nothing but the
packages under test sits in it. The shim comes from a wheel built once from this
checkout, the clients from wheels downloaded once into a local wheelhouse.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from harness import log, process_output

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"

CLIENTS = ["requests", "urllib3", "httpx", "aiohttp"]
WRAPT_1 = "wrapt>=1.17,<2"
WRAPT_2 = "wrapt>=2"

# Variables that would make a child's timing or behaviour depend on the caller's shell.
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


def proxy_environ(proxy_url: str, **overrides: str) -> dict[str, str]:
    """Return a clean environment whose http, https and all proxy variables are set."""
    variables = {}
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        variables[name] = proxy_url
        variables[name.upper()] = proxy_url
    variables.update(overrides)
    return clean_environ(**variables)


def pyenv_pythons(minimum_minor: int = 9) -> list[Path]:
    """Return the newest pyenv CPython 3.X for each X from ``minimum_minor`` up."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    newest: dict[int, tuple[int, Path]] = {}
    for python in glob.glob(os.path.join(root, "versions", "3.*", "bin", "python3")):
        match = re.search(r"versions/3\.(\d+)\.(\d+)/bin/python3$", python)
        if not match:
            continue
        minor, micro = int(match.group(1)), int(match.group(2))
        if minor >= minimum_minor and micro >= newest.get(minor, (-1, Path()))[0]:
            newest[minor] = (micro, Path(python))
    return [newest[minor][1] for minor in sorted(newest)]


def python_version(python: Path | str) -> str:
    code = "import platform; print(platform.python_version())"
    return process_output([str(python), "-c", code], clean_environ()).strip()


class Venv:
    """A venv's interpreter and the paths the benchmarks write into."""

    def __init__(self, path: Path, version: str) -> None:
        self.path = path
        self.python = str(path / "bin" / "python")
        self.version = version

    @property
    def site_packages(self) -> Path:
        (directory,) = (self.path / "lib").glob("python3.*/site-packages")
        return directory

    def package_version(self, distribution: str) -> str:
        code = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
        return process_output([self.python, "-c", code, distribution], clean_environ()).strip()


def run_pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    # stderr is kept only for the error: the machine's index configuration warns
    # about every missing directory of one of its local indexes.
    completed = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if completed.returncode != 0:
        raise RuntimeError("pip %s failed:\n%s" % (" ".join(args), completed.stderr))


class Workspace:
    """Builds the wheel, the wheelhouse and the venvs on first request, once per run."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.harness_python = sys.executable
        self._wheel: Path | None = None
        self._wheelhouses: dict[str, Path] = {}
        self._venvs: dict[str, Venv] = {}

    @property
    def wheel(self) -> Path:
        if self._wheel is None:
            log("building the loopback-shim wheel from %s" % REPO)
            out_dir = self.directory / "dist"
            shutil.rmtree(out_dir, ignore_errors=True)
            run_pip("wheel", "--no-deps", "-w", str(out_dir), str(REPO))
            (self._wheel,) = out_dir.glob("loopback_shim-*.whl")
        return self._wheel

    def wheelhouse(self, name: str, requirements: list[str]) -> Path:
        """Download ``requirements`` and their dependencies for the harness Python."""
        if name not in self._wheelhouses:
            log("downloading %s" % " ".join(requirements))
            directory = self.directory / ("wheels-" + name)
            run_pip("download", "-d", str(directory), *requirements)
            self._wheelhouses[name] = directory
        return self._wheelhouses[name]

    def venv(self, name: str, python: Path | str, install: list[str]) -> Venv:
        """Return the venv ``name``, creating it with ``install`` the first time."""
        if name not in self._venvs:
            log("creating venv %s" % name)
            path = self.directory / name
            # A venv left by an earlier run with --work-dir may hold an older wheel
            # of the same version, which pip would keep.
            shutil.rmtree(path, ignore_errors=True)
            subprocess.run(
                [str(python), "-m", "venv", "--without-pip", str(path)],
                check=True, env=clean_environ(), timeout=300,
            )
            venv = Venv(path, python_version(path / "bin" / "python"))
            if install:
                run_pip("--python", venv.python, "install", "--no-index", "--no-deps", *install)
            self._venvs[name] = venv
        return self._venvs[name]

    def client_wheels(self) -> list[str]:
        return sorted(str(path) for path in self.wheelhouse("clients", CLIENTS).glob("*.whl"))

    def wrapt_wheel(self, requirement: str, name: str) -> str:
        (wheel,) = self.wheelhouse(name, ["--no-deps", requirement]).glob("wrapt-*.whl")
        return str(wheel)

    def stock_clients(self) -> Venv:
        """Return the harness Python's venv with the four clients and no shim."""
        return self.venv("clients-stock", self.harness_python, self.client_wheels())

    def shim_clients(self) -> Venv:
        """Return the harness Python's venv with the four clients and the shim's wheel."""
        install = [*self.client_wheels(), str(self.wheel)]
        return self.venv("clients-shim", self.harness_python, install)
