"""Activation through every installer, interpreter flag and start-up path.

Each test starts fresh interpreters with every proxy variable pointing at the trap
proxy and runs install_helpers.py in them. An active shim sends the requests for
the loopback origins direct (the origin answers a request line in origin form),
while a request for http://control.example.test/ reaches the trap proxy in absolute
form, as stock Python sends it. The control name is never resolved or connected
to, because every client hands it to the proxy.

The installers run offline from a wheelhouse downloaded once per session, and the
per-version parts run on the Python that runs pytest (nox runs this file on each
pyenv CPython). The Debian system Python, CPython 3.6 to 3.8 and Python 2.7 cases pick
their own interpreters and are skipped where those are missing.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from environments import REPO, Interpreter, clean_environ, proxy_environ
from servers import RunningServer

PROBE = Path(__file__).resolve().with_name("install_helpers.py")
CONTROL_URL = "http://control.example.test/"
# The names of everything the shim installs into site-packages, including pip's
# and uv's editable-install hooks and the dist-info directory.
SHIM_FILE_MARKERS = ("loopback_shim", "_loopback_shim_boot")
PYENV_ROOT = Path(os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv")))
DEBIAN_PYTHON = Path("/usr/bin/python3")
TOOL_TIMEOUT = 600
PROBE_TIMEOUT = 120


# --- tools: the runner's pip, uv and build, all offline after the first download ---


def tool_environ(**overrides: str) -> dict[str, str]:
    # uv must never download an interpreter: only package registries are reachable.
    return clean_environ(UV_PYTHON_DOWNLOADS="never", **overrides)


def run_tool(command: list[str], **overrides: str) -> None:
    completed = subprocess.run(
        command, env=tool_environ(**overrides), capture_output=True, text=True,
        timeout=TOOL_TIMEOUT, cwd=str(REPO),
    )
    if completed.returncode != 0:
        raise AssertionError(
            "%s failed with exit status %d\nstdout:\n%s\nstderr:\n%s"
            % (" ".join(command), completed.returncode, completed.stdout, completed.stderr)
        )


def runner_pip(*args: str) -> None:
    run_tool([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args])


def ensure_runner_module(module: str, requirement: str) -> None:
    """Install ``requirement`` into the interpreter running pytest unless it has ``module``."""
    probe = [sys.executable, "-c", "import " + module]
    if subprocess.run(probe, capture_output=True, env=tool_environ()).returncode == 0:
        return
    try:
        runner_pip("install", requirement)
    except AssertionError as exc:
        pytest.fail("%s is missing and could not be installed with pip:\n%s" % (module, exc))


class Installer:
    """pip or uv, installing offline into a venv from the wheelhouse."""

    def __init__(self, name: str, wheelhouse: Path, uv: str | None = None) -> None:
        self.name = name
        self.wheelhouse = wheelhouse
        self.uv = uv

    def index_options(self) -> list[str]:
        return ["--no-index", "--find-links", str(self.wheelhouse)]

    def install(self, venv: Interpreter, *requirements: str) -> None:
        if self.name == "pip":
            runner_pip("--python", str(venv.python), "install",
                       *self.index_options(), *requirements)
        else:
            assert self.uv is not None
            run_tool([self.uv, "pip", "install", "-q", "--no-config", "--offline",
                      "--python", str(venv.python), *self.index_options(), *requirements])

    def uninstall(self, venv: Interpreter, name: str) -> None:
        if self.name == "pip":
            runner_pip("--python", str(venv.python), "uninstall", "-y", name)
        else:
            assert self.uv is not None
            run_tool([self.uv, "pip", "uninstall", "-q", "--no-config",
                      "--python", str(venv.python), name])


def new_venv(path: Path, *venv_options: str) -> Interpreter:
    """Create a venv without pip, for the runner's pip or uv to install into."""
    run_tool([sys.executable, "-m", "venv", "--without-pip", *venv_options, str(path)])
    return Interpreter(path / "bin" / "python")


# --- running the probe ---


def run_probe(
    command: list[str],
    *probe_args: str,
    env: dict[str, str],
    interpreter_options: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run install_helpers.py with ``command`` and return its report and stderr."""
    completed = subprocess.run(
        [*command, *interpreter_options, str(PROBE), *probe_args],
        env=env, capture_output=True, text=True, timeout=PROBE_TIMEOUT,
        cwd=str(REPO / "tests"),
    )
    if completed.returncode != 0:
        raise AssertionError(
            "probe failed with exit status %d\nstdout:\n%s\nstderr:\n%s"
            % (completed.returncode, completed.stdout, completed.stderr)
        )
    report: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    report["stderr"] = completed.stderr
    return report


def request_args(origins: list[RunningServer], *clients: str) -> list[str]:
    args = []
    for client in clients:
        args += ["--client", client]
    return args + [origin.url for origin in origins] + [CONTROL_URL]


def assert_control_stock(result: dict[str, Any]) -> None:
    # Stock Python hands a non-loopback name to the proxy in absolute form.
    assert result["via"] == "trap-proxy", result
    assert result["request_line"].startswith("GET %s " % CONTROL_URL), result


def assert_direct(report: dict[str, Any], clients: tuple[str, ...]) -> None:
    """Every loopback request went direct and the control went to the proxy."""
    assert sorted({result["client"] for result in report["results"]}) == sorted(clients)
    for result in report["results"]:
        if result["url"] == CONTROL_URL:
            assert_control_stock(result)
        else:
            assert result["via"] == "origin", result
            assert result["request_line"].startswith("GET / "), result


def assert_proxied(report: dict[str, Any]) -> None:
    """Stock behaviour: loopback requests went to the trap proxy like any other."""
    for result in report["results"]:
        if result["url"] == CONTROL_URL:
            assert_control_stock(result)
        else:
            assert result["via"] == "trap-proxy", result
            assert result["request_line"].startswith("GET http://"), result


def assert_started_active(report: dict[str, Any]) -> None:
    startup = report["startup"]
    # Start-up adds exactly one module and one finder, and extends NO_PROXY.
    assert startup["shim_modules"] == ["_loopback_shim_boot"], startup
    assert startup["marker_finders"] == 1, startup
    assert "127.0.0.0/8" in (startup["no_proxy"] or ""), startup
    assert report["stderr"] == ""


def assert_started_stock(report: dict[str, Any]) -> None:
    startup = report["startup"]
    assert startup["shim_modules"] == [], startup
    assert startup["marker_finders"] == 0, startup
    assert startup["no_proxy"] is None, startup
    assert report["stderr"] == ""


@pytest.fixture(scope="module")
def probe_env(trap: RunningServer) -> dict[str, str]:
    return proxy_environ(trap.url.rstrip("/"), UV_PYTHON_DOWNLOADS="never")


# --- shared downloads, tools and environments, built once per module ---


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels for requests and for building the shim (hatchling, editables)."""
    directory = tmp_path_factory.mktemp("wheelhouse")
    runner_pip("download", "-d", str(directory), "requests", "hatchling", "editables")
    return directory


@pytest.fixture(scope="module")
def uv_bin() -> str:
    ensure_runner_module("uv", "uv")
    output = subprocess.run(
        [sys.executable, "-c", "import uv; print(uv.find_uv_bin())"],
        check=True, capture_output=True, text=True, env=tool_environ(),
    ).stdout
    return output.strip()


@pytest.fixture(scope="module")
def pip(wheelhouse: Path) -> Installer:
    return Installer("pip", wheelhouse)


@pytest.fixture(scope="module")
def uv(wheelhouse: Path, uv_bin: str) -> Installer:
    return Installer("uv", wheelhouse, uv_bin)


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("install-venvs")


@pytest.fixture(scope="module")
def wheel_env(venvs: Path, uv: Installer, wheel: Path) -> Interpreter:
    """The shim's wheel and requests in a venv: the flag and start-up file tests use it."""
    venv = new_venv(venvs / "wheel")
    uv.install(venv, str(wheel), "requests")
    return venv


@pytest.fixture(scope="module")
def build_env(
    venvs: Path, pip: Installer, wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Interpreter:
    """A wheel from ``python -m build``, installed from the file."""
    ensure_runner_module("build", "build")
    out_dir = tmp_path_factory.mktemp("build-dist")
    # build's isolated environment installs hatchling with pip, which reads these.
    run_tool(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out_dir), str(REPO)],
        PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse),
    )
    (built,) = out_dir.glob("loopback_shim-*.whl")
    venv = new_venv(venvs / "build")
    pip.install(venv, str(built), "requests")
    return venv


@pytest.fixture(scope="module")
def pipx_style_env(venvs: Path, pip: Installer, wheel: Path) -> Interpreter:
    """An isolated application venv holding only the shim and requests, as pipx makes."""
    venv = new_venv(venvs / "pipx-app")
    pip.install(venv, str(wheel), "requests")
    return venv


@pytest.fixture(scope="module")
def system_site_env(venvs: Path, uv: Installer, wheel: Path) -> Interpreter:
    venv = new_venv(venvs / "system-site", "--system-site-packages")
    uv.install(venv, str(wheel), "requests")
    return venv


@pytest.fixture(scope="module")
def uv_run_command(venvs: Path, uv: Installer, wheel: Path) -> list[str]:
    """``uv run --with <wheel>`` over a bare venv: the shim lives in uv's overlay."""
    base = new_venv(venvs / "uv-run-base")
    assert uv.uv is not None
    return [
        uv.uv, "run", "-q", "--no-config", "--no-project", "--offline",
        *uv.index_options(), "--python", str(base.python),
        "--with", str(wheel), "--with", "requests", "--", "python",
    ]


# --- installers ---


def shim_files(site_packages: Path) -> list[str]:
    if not site_packages.exists():
        return []
    return sorted(
        str(path.relative_to(site_packages))
        for path in site_packages.rglob("*")
        if any(marker in path.name for marker in SHIM_FILE_MARKERS)
    )


@pytest.mark.parametrize("tool", ["pip", "uv"])
@pytest.mark.parametrize("mode", ["wheel", "editable"])
def test_checkout_install_and_uninstall(tool, mode, request, origins, probe_env, tmp_path):
    # `pip install .`, `pip install -e .`, `uv pip install .` and `uv pip install -e .`
    installer = request.getfixturevalue(tool)
    venv = new_venv(tmp_path / "venv")
    shim = ["-e", str(REPO)] if mode == "editable" else [str(REPO)]
    # requests stays installed because pip 23.2 deletes the whole site-packages
    # directory when every file in it belongs to the package it uninstalls.
    installer.install(venv, *shim, "requests")
    site_packages = venv.site_packages
    args = request_args(origins, "urlopen", "requests")
    # Running once also writes the byte code files that the interpreter adds itself.
    report = run_probe([str(venv.python)], *args, env=probe_env)
    assert_started_active(report)
    assert_direct(report, ("urlopen", "requests"))
    assert "loopback_shim.pth" in shim_files(site_packages)
    assert "loopback_shim.start" in shim_files(site_packages)

    installer.uninstall(venv, "loopback-shim")

    leftovers = shim_files(site_packages)
    # NOTE: uv 0.13 keeps __pycache__/_loopback_shim_boot.*.pyc, written at run
    # time for the top-level module. Python never imports a byte code file from
    # __pycache__ without its source, so it cannot run; the checks below show it.
    assert [name for name in leftovers if not name.startswith("__pycache__/")] == []
    report = run_probe([str(venv.python)], *args, env=probe_env)
    assert_started_stock(report)
    assert_proxied(report)
    completed = venv.run(["-c", "import _loopback_shim_boot"], check=False)
    assert "No module named '_loopback_shim_boot'" in completed.stderr


@pytest.mark.parametrize("env_name", ["build_env", "pipx_style_env"])
def test_installed_env_activates(env_name, request, origins, probe_env):
    venv = request.getfixturevalue(env_name)
    report = run_probe(
        [str(venv.python)], *request_args(origins, "urlopen", "requests"), env=probe_env
    )
    assert_started_active(report)
    assert_direct(report, ("urlopen", "requests"))


def test_uv_run_with_wheel_activates(uv_run_command, origins, probe_env):
    report = run_probe(uv_run_command, *request_args(origins, "urlopen", "requests"),
                       env=probe_env)
    # The shim sits in uv's ephemeral overlay, whose .pth runs late through
    # site.addsitedir from _uv_ephemeral_overlay.pth, still before any user code.
    assert_started_active(report)
    assert_direct(report, ("urlopen", "requests"))


def test_stock_venv_sends_loopback_to_proxy(venvs, uv, origins, probe_env):
    # The same probe without the shim: shows that every check above can fail.
    venv = new_venv(venvs / "stock")
    uv.install(venv, "requests")
    report = run_probe([str(venv.python)], *request_args(origins, "urlopen", "requests"),
                       env=probe_env)
    assert_started_stock(report)
    assert_proxied(report)


# --- interpreter flags ---


FLAG_STATES = {
    "-I": {"isolated": 1, "ignore_environment": 1, "no_user_site": 1},
    "-E": {"ignore_environment": 1},
    "-s": {"no_user_site": 1},
    "none": {"isolated": 0, "ignore_environment": 0, "no_site": 0},
}


@pytest.mark.parametrize("env_name", ["wheel_env", "system_site_env"])
@pytest.mark.parametrize("flag", sorted(FLAG_STATES))
def test_flag_keeps_activation(env_name, flag, request, origins, probe_env):
    # site still processes site-packages .pth files under -I, -E and -s.
    venv = request.getfixturevalue(env_name)
    options = () if flag == "none" else (flag,)
    report = run_probe([str(venv.python)], *request_args(origins, "urlopen", "requests"),
                       env=probe_env, interpreter_options=options)
    for name, value in FLAG_STATES[flag].items():
        assert report["interpreter"][name] == value, (name, report["interpreter"])
    assert_started_active(report)
    assert_direct(report, ("urlopen", "requests"))


@pytest.mark.parametrize("env_name", ["wheel_env", "system_site_env"])
def test_no_site_flag_needs_explicit_activation(env_name, request, origins, probe_env):
    venv = request.getfixturevalue(env_name)

    # -S: site never runs, so neither .pth nor .start file does: stock decisions.
    report = run_probe([str(venv.python), "-S"], *request_args(origins, "urlopen"),
                       env=probe_env)
    assert report["interpreter"]["no_site"] == 1
    assert_started_stock(report)
    assert_proxied(report)

    # A frozen application puts its packages on sys.path itself, then activates.
    site_dirs = []
    for directory in site_directories(venv):
        site_dirs += ["--add-site-dir", directory]
    report = run_probe(
        [str(venv.python), "-S"], *site_dirs, "--activate", "api",
        *request_args(origins, "urlopen", "requests"), env=probe_env,
    )
    assert_started_stock(report)
    assert report["activated"]["marker_finders"] == 1
    assert "127.0.0.0/8" in (report["activated"]["no_proxy"] or "")
    assert_direct(report, ("urlopen", "requests"))


def site_directories(venv: Interpreter) -> list[str]:
    """Return the site-packages directories site adds for ``venv``, base ones included."""
    code = "import json, site; print(json.dumps(site.getsitepackages()))"
    output = venv.run(["-c", code]).stdout
    directories: list[str] = json.loads(output)
    return directories


# --- start-up files ---


def test_pth_and_start_files_match(wheel_env):
    site_packages = wheel_env.site_packages
    # PEP 829 (CPython 3.15): a .start file skips the import lines of the .pth file
    # with the same base name, so the two must stay paired.
    assert (site_packages / "loopback_shim.pth").is_file()
    assert (site_packages / "loopback_shim.start").is_file()
    pth_lines = (site_packages / "loopback_shim.pth").read_text().splitlines()
    start_lines = (site_packages / "loopback_shim.start").read_text().splitlines()
    # site skips "#" lines, executes only lines that start with "import " (or
    # "import" and a tab), and runs each one on its own, so the whole hook must be
    # that one line.
    (pth_line,) = [line for line in pth_lines if line.strip() and not line.startswith("#")]
    assert pth_line.startswith("import "), pth_line
    assert pth_line.strip() == (
        'import os; os.environ.get("LOOPBACK_SHIM_DISABLE") == "1"'
        ' or __import__("_loopback_shim_boot").activate()'
    )
    entries = [line.strip() for line in start_lines if line.strip() and not line.startswith("#")]
    assert entries == ["_loopback_shim_boot:activate"]


def test_start_file_entry_activates(wheel_env, origins, probe_env):
    # No 3.15 here: -S keeps the .pth from running, then the probe resolves each
    # .start entry with pkgutil.resolve_name and calls it, as 3.15's site does.
    site_packages = wheel_env.site_packages
    report = run_probe(
        [str(wheel_env.python), "-S"], "--add-site-dir", str(site_packages),
        "--activate", "start-file:%s" % (site_packages / "loopback_shim.start"),
        *request_args(origins, "urlopen", "requests"), env=probe_env,
    )
    assert_started_stock(report)
    assert report["activated"]["shim_modules"] == ["_loopback_shim_boot"]
    assert report["activated"]["marker_finders"] == 1
    assert_direct(report, ("urlopen", "requests"))


def inject_dir_of(kind: str, wheel_env: Interpreter) -> tuple[Path, Path]:
    """Return the PYTHONPATH entry for ``kind`` and the sitecustomize.py it provides."""
    if kind == "installed":
        directory = wheel_env.site_packages / "loopback_shim" / "_inject"
    else:
        directory = REPO
    return directory, directory / "sitecustomize.py"


@pytest.mark.parametrize("inject_kind", ["installed", "checkout"])
def test_pth_and_pythonpath_activate_once(inject_kind, wheel_env, origins, probe_env):
    args = request_args(origins, "urlopen", "requests")
    baseline = run_probe([str(wheel_env.python)], *args, env=probe_env)
    directory, sitecustomize = inject_dir_of(inject_kind, wheel_env)
    env = dict(probe_env, PYTHONPATH=str(directory))
    report = run_probe([str(wheel_env.python)], *args, env=env)

    assert report["startup"]["sitecustomize"] == str(sitecustomize)
    assert_started_active(report)
    assert_direct(report, ("urlopen", "requests"))
    # One activation: one finder, each reference wrapped once, the same patches
    # as the .pth alone applies, none of them twice.
    assert report["patches"]["wrapper_depths"] == {
        "urllib.request.proxy_bypass": 1, "requests.utils.select_proxy": 1,
    }
    applied = report["patches"]["applied"]
    assert applied, report["patches"]
    assert len(applied) == len(set(applied)), applied
    assert applied == baseline["patches"]["applied"]


# --- PYTHONPATH mode with foreign interpreters ---


def write_marker_module(directory: Path, module: str, source: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / (module + ".py")).write_text(
        "import sys\n"
        "sys.loopback_shim_test_markers = getattr(sys, 'loopback_shim_test_markers', [])\n"
        + source
    )


def debian_sitecustomize() -> Path | None:
    if not DEBIAN_PYTHON.exists():
        return None
    code = "import sitecustomize; print(sitecustomize.__file__)"
    completed = subprocess.run([str(DEBIAN_PYTHON), "-I", "-c", code],
                               capture_output=True, text=True, env=clean_environ())
    if completed.returncode != 0:
        return None
    return Path(completed.stdout.strip())


@pytest.mark.parametrize("inject_kind", ["installed", "checkout"])
def test_debian_python_keeps_its_sitecustomize(inject_kind, wheel_env, origins, probe_env,
                                               tmp_path):
    dist_sitecustomize = debian_sitecustomize()
    if dist_sitecustomize is None:
        pytest.skip("no %s with a distribution sitecustomize" % DEBIAN_PYTHON)
    marker_dir = tmp_path / "markers"
    if "apport_python_hook" in dist_sitecustomize.read_text():
        # Debian's file imports apport_python_hook and calls install(); a stand-in
        # after ours on PYTHONPATH records the call (apport itself may be absent).
        write_marker_module(marker_dir, "apport_python_hook", (
            "def install():\n"
            "    sys.loopback_shim_test_markers.append('apport_python_hook.install')\n"
        ))
        expected_sitecustomize, expected_marker = dist_sitecustomize, "apport_python_hook.install"
    else:
        # No visible side effect: chain to a marker sitecustomize placed after ours.
        write_marker_module(marker_dir, "sitecustomize",
                            "sys.loopback_shim_test_markers.append('sitecustomize')\n")
        expected_sitecustomize, expected_marker = marker_dir / "sitecustomize.py", "sitecustomize"
    directory, _ = inject_dir_of(inject_kind, wheel_env)
    args = request_args(origins, "urlopen")

    stock = run_probe([str(DEBIAN_PYTHON)], *args,
                      env=dict(probe_env, PYTHONPATH=str(marker_dir)))
    assert stock["startup"]["markers"] == [expected_marker]
    assert_started_stock(stock)
    assert_proxied(stock)

    env = dict(probe_env, PYTHONPATH=os.pathsep.join([str(directory), str(marker_dir)]))
    report = run_probe([str(DEBIAN_PYTHON)], *args, env=env)
    assert report["startup"]["sitecustomize"] == str(expected_sitecustomize)
    assert report["startup"]["markers"] == [expected_marker]
    assert_started_active(report)
    assert_direct(report, ("urlopen",))


def test_debian_python_venv_activates(uv, wheel, origins, probe_env, tmp_path):
    # A venv of the system Python: its stdlib sitecustomize stays in charge, and
    # the .pth file in the venv's site-packages activates the shim.
    dist_sitecustomize = debian_sitecustomize()
    if dist_sitecustomize is None:
        pytest.skip("no %s with a distribution sitecustomize" % DEBIAN_PYTHON)
    venv_dir = tmp_path / "debian-venv"
    subprocess.run([str(DEBIAN_PYTHON), "-m", "venv", "--without-pip", str(venv_dir)],
                   check=True, env=clean_environ(), timeout=TOOL_TIMEOUT)
    venv = Interpreter(venv_dir / "bin" / "python")
    # The wheelhouse has wheels for the runner's Python only, so no requests here.
    uv.install(venv, str(wheel))
    report = run_probe([str(venv.python)], *request_args(origins, "urlopen"), env=probe_env)
    assert report["startup"]["sitecustomize"] == str(dist_sitecustomize)
    assert_started_active(report)
    assert_direct(report, ("urlopen",))


def pyenv_python(pattern: str) -> Path | None:
    matches = sorted(glob.glob(str(PYENV_ROOT / "versions" / pattern)))
    return Path(matches[-1]) if matches else None


@pytest.fixture
def marker_sitecustomize_dir(tmp_path: Path) -> Path:
    """A directory whose sitecustomize records that it ran: the one ours shadows."""
    directory = tmp_path / "shadowed"
    write_marker_module(directory, "sitecustomize",
                        "sys.loopback_shim_test_markers.append('sitecustomize')\n")
    return directory


@pytest.mark.parametrize("version", ["3.6", "3.7", "3.8"])
@pytest.mark.parametrize("inject_kind", ["installed", "checkout"])
def test_old_python3_inject_is_harmless(version, inject_kind, wheel_env,
                                        marker_sitecustomize_dir, origins, probe_env):
    # The shim supports 3.9 and newer, but an inherited PYTHONPATH reaches any
    # Python 3 that a process starts.
    python = pyenv_python("%s.*/bin/python3" % version)
    if python is None:
        pytest.skip("no CPython %s under %s" % (version, PYENV_ROOT))
    directory, _ = inject_dir_of(inject_kind, wheel_env)
    pythonpath = os.pathsep.join([str(directory), str(marker_sitecustomize_dir)])
    env = dict(probe_env, PYTHONPATH=pythonpath, PYTHONDONTWRITEBYTECODE="1")
    report = run_probe([str(python)], *request_args(origins, "urlopen"), env=env)

    assert report["interpreter"]["version"][:2] == [int(part) for part in version.split(".")]
    # It starts, runs the sitecustomize it shadows, and leaves the interpreter stock.
    assert report["startup"]["sitecustomize"] == str(marker_sitecustomize_dir /
                                                     "sitecustomize.py")
    assert report["startup"]["markers"] == ["sitecustomize"]
    assert_started_stock(report)
    assert_proxied(report)


PYTHON2_REPORT = """\
import json, os, sys
sitecustomize = sys.modules.get("sitecustomize")
print(json.dumps({
    "version": list(sys.version_info[:2]),
    "shim_modules": sorted(name for name in sys.modules if "loopback_shim" in name),
    "sitecustomize": getattr(sitecustomize, "__file__", None),
    "markers": list(getattr(sys, "loopback_shim_test_markers", [])),
    "no_proxy": os.environ.get("no_proxy"),
}))
"""


def test_python27_parses_inject_files(wheel_env, tmp_path):
    python27 = pyenv_python("2.7.*/bin/python")
    if python27 is None:
        pytest.skip("no Python 2.7 under %s" % PYENV_ROOT)
    sources = [
        REPO / "sitecustomize.py",
        REPO / "loopback_shim" / "_inject" / "sitecustomize.py",
        wheel_env.site_packages / "loopback_shim" / "_inject" / "sitecustomize.py",
    ]
    for index, source in enumerate(sources):
        # py_compile on 2.7 writes the .pyc beside its input, so compile a copy.
        copy = tmp_path / ("copy%d.py" % index)
        shutil.copyfile(source, copy)
        compiled = subprocess.run([str(python27), "-m", "py_compile", str(copy)],
                                  capture_output=True, text=True, env=clean_environ())
        assert compiled.returncode == 0, (source, compiled.stderr)


@pytest.mark.parametrize("inject_kind", ["installed", "checkout"])
def test_python27_inject_is_harmless(inject_kind, wheel_env, marker_sitecustomize_dir,
                                     probe_env):
    python27 = pyenv_python("2.7.*/bin/python")
    if python27 is None:
        pytest.skip("no Python 2.7 under %s" % PYENV_ROOT)
    directory, _ = inject_dir_of(inject_kind, wheel_env)
    pythonpath = os.pathsep.join([str(directory), str(marker_sitecustomize_dir)])
    completed = subprocess.run(
        [str(python27), "-B", "-c", PYTHON2_REPORT], capture_output=True, text=True,
        env=dict(probe_env, PYTHONPATH=pythonpath), timeout=PROBE_TIMEOUT,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    report = json.loads(completed.stdout)
    assert report["version"] == [2, 7]
    assert report["sitecustomize"] == str(marker_sitecustomize_dir / "sitecustomize.py")
    assert report["markers"] == ["sitecustomize"]
    assert report["shim_modules"] == []
    assert report["no_proxy"] is None
