"""Fault injection: whatever breaks around the shim, the host program keeps working.

Each case runs a real interpreter that injects one fault, activates the shim and
then runs the same small program: real requests to a loopback origin with
urllib, requests and urllib3, plus the proxy decisions of each client. The
program must succeed, each faulted target must keep its stock decision, the
others stay patched, and under LOOPBACK_SHIM_DEBUG=1 exactly one line on stderr
says what was skipped. Without LOOPBACK_SHIM_DEBUG, stderr stays empty.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from environments import REPO, Interpreter, clean_environ, run_pip

# Runs after the fault and the activation. Prints one JSON line.
PROGRAM = """
import json, sys, urllib.request
import requests, urllib3

origin = sys.argv[1]
trap = "http://127.0.0.1:9"  # only handed to decision functions, never contacted
result = {}
with urllib.request.urlopen(origin, timeout=10) as response:
    result["urlopen"] = json.loads(response.read())["via"]
result["requests"] = requests.get(origin, timeout=10).json()["via"]
with urllib3.PoolManager() as manager:
    response = manager.request("GET", origin, timeout=10, retries=False)
    result["urllib3"] = json.loads(response.data)["via"]
result["urllib_direct"] = bool(urllib.request.proxy_bypass("127.0.0.2"))
result["requests_direct"] = requests.utils.select_proxy("http://127.0.0.2/", {"http": trap}) is None
with urllib3.ProxyManager(trap) as manager:
    pool = manager.connection_from_host("127.0.0.2", 80, "http")
    result["urllib3_direct"] = pool.proxy is None
    result["urllib3_example_proxied"] = (
        manager.connection_from_host("example.test", 80, "http").proxy is not None)
print(json.dumps(result))
"""

ALL_PATCHED = {"urllib_direct": True, "requests_direct": True, "urllib3_direct": True}
WORKING = {"urlopen": "origin", "requests": "origin", "urllib3": "origin"}


def run_case(
    fault: str,
    origin_url: str,
    debug: bool,
    python: str = sys.executable,
    activate: bool = True,
    extra_env: dict[str, str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Run fault + activation + PROGRAM; return the program's result and stderr lines."""
    lines = ["import sys", "sys.path.insert(0, %r)" % str(REPO), textwrap.dedent(fault)]
    if activate:
        lines.append("import loopback_shim; loopback_shim.activate()")
    lines.append(PROGRAM)
    env = clean_environ(**(extra_env or {}))
    if debug:
        env["LOOPBACK_SHIM_DEBUG"] = "1"
    completed = subprocess.run(
        [python, "-c", "\n".join(lines), origin_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(REPO / "tests"),
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return result, completed.stderr.splitlines()


SKIP_WORDS = ("failed", "not patched", "skipped")


def skip_messages(stderr_lines: list[str]) -> list[str]:
    messages = [line for line in stderr_lines if line.startswith("loopback-shim:")]
    return [line for line in messages if any(word in line for word in SKIP_WORDS)]


def check_case(
    fault: str,
    origin_url: str,
    expected_direct: dict[str, bool],
    skipped: str | None,
    **kwargs: Any,
) -> None:
    quiet_result, quiet_stderr = run_case(fault, origin_url, debug=False, **kwargs)
    assert quiet_stderr == []
    result, stderr = run_case(fault, origin_url, debug=True, **kwargs)
    for outcome in (quiet_result, result):
        for client, via in WORKING.items():
            assert outcome[client] == via, client
        for decision, direct in expected_direct.items():
            assert outcome[decision] is direct, decision
        assert outcome["urllib3_example_proxied"] is True
    messages = skip_messages(stderr)
    if skipped is None:
        assert messages == []
    else:
        assert len(messages) == 1, stderr
        assert skipped in messages[0]


# Faults inside one interpreter, with the shim activated from the checkout.


def test_fault_free_run_patches_everything(origins):
    check_case("", origins[0].url, ALL_PATCHED, skipped=None)


def test_target_attribute_missing(origins):
    # requests has bound proxy_bypass_environment already; urllib.request lost it.
    fault = """
    import requests, urllib.request
    del urllib.request.proxy_bypass_environment
    """
    expected = dict(ALL_PATCHED, urllib_direct=False)
    check_case(fault, origins[0].url, expected, skipped="urllib.request")


def test_target_fails_midway_undoes_group(origins):
    # select_proxy is wrapped and rebound first, then rebuild_proxies is missing:
    # the whole requests group is undone, including the rebound copies.
    fault = """
    import requests.sessions, requests.utils, requests.adapters
    original_select_proxy = requests.utils.select_proxy
    del requests.sessions.SessionRedirectMixin.rebuild_proxies
    """
    check_after = """
    assert requests.utils.select_proxy is original_select_proxy
    assert requests.adapters.select_proxy is original_select_proxy
    """
    expected = dict(ALL_PATCHED, requests_direct=False)
    check_case(fault + check_after, origins[0].url, expected, skipped="requests")


def test_target_signature_changed(origins):
    # A newer urllib3 with an extra keyword: the caller's keyword must still work.
    fault = """
    import urllib3.poolmanager as poolmanager
    base = poolmanager.ProxyManager.connection_from_host
    def connection_from_host(self, host, port=None, scheme="http", pool_kwargs=None, *, hint=None):
        return base(self, host, port, scheme, pool_kwargs)
    poolmanager.ProxyManager.connection_from_host = connection_from_host
    """
    call_with_new_keyword = """
    import urllib3
    with urllib3.ProxyManager("http://127.0.0.1:9") as manager:
        manager.connection_from_host("127.0.0.2", 80, "http", hint=1)
        manager.connection_from_host("example.test", 80, "http", hint=1)
    """
    activate = "\nimport loopback_shim; loopback_shim.activate()\n"
    program_fault = textwrap.dedent(fault) + activate + textwrap.dedent(call_with_new_keyword)
    check_case(program_fault, origins[0].url, ALL_PATCHED, skipped=None)


def test_patch_function_raises(origins):
    fault = """
    import loopback_shim._patch_requests
    def broken_patch(group, module):
        raise RuntimeError("injected fault")
    loopback_shim._patch_requests.patch_requests = broken_patch
    """
    expected = dict(ALL_PATCHED, requests_direct=False)
    check_case(fault, origins[0].url, expected, skipped="requests")


def test_shim_module_missing(origins):
    # One patch module cannot be imported, as in a damaged installation.
    fault = """
    class BlockPatchModule:
        def find_spec(self, name, path=None, target=None):
            if name == "loopback_shim._patch_urllib3":
                raise ModuleNotFoundError("No module named %r" % name, name=name)
            return None
    sys.meta_path.insert(0, BlockPatchModule())
    """
    expected = dict(ALL_PATCHED, urllib3_direct=False)
    check_case(fault, origins[0].url, expected, skipped="_patch_urllib3")


def test_wrapt_missing_is_not_needed(origins):
    fault = """
    class BlockWrapt:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "wrapt":
                raise ModuleNotFoundError("No module named 'wrapt'", name="wrapt")
            return None
    sys.meta_path.insert(0, BlockWrapt())
    """
    after = """
    assert "wrapt" not in sys.modules
    """
    check_case(fault + after, origins[0].url, ALL_PATCHED, skipped=None)


# Other import hooks, inserted at sys.meta_path[0] after activation, ahead of the shim's finder.

LOADER_WRAPPING_FINDER = """
class LoaderWrappingFinder:
    # As coverage, wrapt and editable-install hooks do: ask the finders after
    # this one, then wrap the loader they return.
    def find_spec(self, name, path=None, target=None):
        if name != "requests":
            return None
        for finder in sys.meta_path[sys.meta_path.index(self) + 1:]:
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(name, path, target) if find_spec else None
            if spec is not None:
                inner = spec.loader
                class WrappingLoader:
                    def create_module(self, spec):
                        return inner.create_module(spec)
                    def exec_module(self, module):
                        inner.exec_module(module)
                        module.loaded_by_wrapping_loader = True
                spec.loader = WrappingLoader()
                return spec
        return None
sys.meta_path.insert(0, LoaderWrappingFinder())
import requests
assert requests.loaded_by_wrapping_loader
"""

PATHFINDER_FIRST_FINDER = """
import importlib.machinery
class PathFinderFirst:
    # Returns PathFinder's spec for requests directly, never asking later finders.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] != "requests":
            return None
        return importlib.machinery.PathFinder.find_spec(name, path, target)
sys.meta_path.insert(0, PathFinderFirst())
"""

LEGACY_FINDER = """
import types, warnings
warnings.simplefilter("ignore", ImportWarning)
class LegacyFinder:
    # Only find_module: Python 3.9 to 3.11 load through it, 3.12 ignores it.
    def find_module(self, name, path=None):
        return self if name == "legacy_target" else None
    def load_module(self, name):
        module = types.ModuleType(name)
        module.loaded_by = "legacy finder"
        sys.modules[name] = module
        return module
position = [getattr(f, "__name__", "") for f in sys.meta_path].index("PathFinder")
sys.meta_path.insert(position, LegacyFinder())
"""


def test_loader_wrapping_finder_before_shim(origins):
    fault = "import loopback_shim; loopback_shim.activate()\n" + LOADER_WRAPPING_FINDER
    check_case(fault, origins[0].url, ALL_PATCHED, skipped=None)


def test_pathfinder_first_finder_before_shim(origins):
    # NOTE: a finder ahead of the shim's that never asks later finders hides the
    # import from the shim: requests stays stock, and no message says so.
    fault = "import loopback_shim; loopback_shim.activate()\n" + PATHFINDER_FIRST_FINDER
    expected = dict(ALL_PATCHED, requests_direct=False)
    check_case(fault, origins[0].url, expected, skipped=None)


@pytest.mark.parametrize("activate", [False, True], ids=["stock", "shim"])
def test_legacy_finder_module_as_stock(origins, activate, tmp_path):
    # The shim must not change which module an import returns. "legacy_target" is
    # made a target by patching the boot module's TARGETS for this run.
    fault = textwrap.dedent(
        """
        import _loopback_shim_boot
        _loopback_shim_boot.TARGETS = _loopback_shim_boot.TARGETS | {"legacy_target"}
        import loopback_shim
        if %r:
            loopback_shim.activate()
        """
        % activate
    )
    fault += (
        LEGACY_FINDER
        + """
try:
    import legacy_target
    loaded_by = legacy_target.loaded_by
except ImportError:
    loaded_by = "not found"
import json
print(json.dumps({"loaded_by": loaded_by}), file=sys.stderr)
"""
    )
    _, stderr = run_case(fault, origins[0].url, debug=True, activate=False)
    outcome = json.loads([line for line in stderr if line.startswith("{")][-1])
    expected = "legacy finder" if sys.version_info < (3, 12) else "not found"
    assert outcome["loaded_by"] == expected
    messages = skip_messages(stderr)
    if activate and sys.version_info < (3, 12):
        assert len(messages) == 1
        assert "legacy_target" in messages[0]
    else:
        assert messages == []


# Installations: a venv that sees the test runner's packages and gets the shim
# from its wheel, so that the .pth file runs at start-up as for a user.


@pytest.fixture(scope="module")
def site_venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Interpreter:
    path = tmp_path_factory.mktemp("faults") / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(path)],
        check=True,
        timeout=300,
        env=clean_environ(),
    )
    interpreter = Interpreter(path / "bin" / "python")
    # The clients are installed here, not borrowed from the base interpreter's
    # site-packages: a pyenv or nox base has none of them.
    run_pip("--python", str(interpreter.python), "install", str(wheel), "requests", "urllib3")
    return interpreter


def run_installed(
    interpreter: Interpreter, origin_url: str, debug: bool, **env: str
) -> tuple[dict[str, Any], list[str]]:
    environ = clean_environ(**env)
    if debug:
        environ["LOOPBACK_SHIM_DEBUG"] = "1"
    completed = interpreter.run(["-c", PROGRAM, origin_url], env=environ)
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return result, completed.stderr.splitlines()


def moved_aside(path: Path) -> Path:
    aside = path.with_name(path.name + ".aside")
    path.rename(aside)
    return aside


def test_installed_shim_activates(site_venv, origins):
    result, stderr = run_installed(site_venv, origins[0].url, debug=False)
    assert stderr == []
    for decision in ALL_PATCHED:
        assert result[decision] is True, decision


def test_boot_module_without_package(site_venv, origins):
    package = site_venv.site_packages / "loopback_shim"
    aside = moved_aside(package)
    try:
        quiet, quiet_stderr = run_installed(site_venv, origins[0].url, debug=False)
        result, stderr = run_installed(site_venv, origins[0].url, debug=True)
    finally:
        aside.rename(package)
    assert quiet_stderr == []
    for outcome in (quiet, result):
        for client, via in WORKING.items():
            assert outcome[client] == via, client
        for decision in ALL_PATCHED:
            assert outcome[decision] is False, decision
    messages = skip_messages(stderr)
    assert len(messages) == 1, stderr
    assert "loopback_shim" in messages[0]


def test_package_without_boot_module(site_venv, origins):
    # The .pth line imports the boot module unguarded, because site compiles it at
    # every start-up and a guard cost more than the rest of the hook. pip installs
    # and removes the two files together, so only a hand-broken install gets here:
    # site reports the line, naming the .pth file, and the program runs stock.
    boot = site_venv.site_packages / "_loopback_shim_boot.py"
    aside = moved_aside(boot)
    try:
        quiet, quiet_stderr = run_installed(site_venv, origins[0].url, debug=False)
        result, stderr = run_installed(site_venv, origins[0].url, debug=True)
    finally:
        aside.rename(boot)
    for outcome in (quiet, result):
        for client, via in WORKING.items():
            assert outcome[client] == via, client
        for decision in ALL_PATCHED:
            assert outcome[decision] is False, decision
    for lines in (quiet_stderr, stderr):
        reports = [line for line in lines if line.startswith("Error processing line")]
        assert reports, lines
        assert all(line.rstrip(":").endswith("loopback_shim.pth") for line in reports), lines
        assert any("No module named '_loopback_shim_boot'" in line for line in lines), lines
        assert not [line for line in lines if line.startswith("loopback-shim:")], lines


def test_boot_module_as_sourceless_bytecode(site_venv, origins):
    # Tools that strip sources leave _loopback_shim_boot.pyc beside the .pth file,
    # which the .pth line imports like any sourceless module.
    boot = site_venv.site_packages / "_loopback_shim_boot.py"
    bytecode = site_venv.site_packages / "_loopback_shim_boot.pyc"
    site_venv.run(["-c", "import py_compile, sys; py_compile.compile(sys.argv[1], sys.argv[2],"
                   " doraise=True)", str(boot), str(bytecode)])
    aside = moved_aside(boot)
    try:
        result, stderr = run_installed(site_venv, origins[0].url, debug=False)
        doctor = site_venv.run(["-m", "loopback_shim", "doctor", "--json"], check=False)
    finally:
        aside.rename(boot)
        bytecode.unlink()
    assert stderr == []
    (site_row,) = json.loads(doctor.stdout)["activation"]["site_packages"]
    assert site_row["boot_module"] is True, site_row
    assert site_row["loadable"] is True, site_row
    for client, via in WORKING.items():
        assert result[client] == via, client
    for decision in ALL_PATCHED:
        assert result[decision] is True, decision


def test_read_only_site_packages(site_venv, origins):
    # NOTE: root ignores file modes, so when the tests run as root the chmod
    # alone does not stop writes. PYTHONDONTWRITEBYTECODE models the rest, and
    # the check is that start-up writes nothing into site-packages.
    site_packages = site_venv.site_packages
    for cache in site_packages.glob("loopback_shim/**/__pycache__"):
        shutil.rmtree(cache)
    for cache in site_packages.glob("__pycache__/_loopback_shim_boot*"):
        cache.unlink()
    before = sorted(str(path) for path in site_packages.rglob("*"))
    modes = {path: path.stat().st_mode for path in [site_packages, *site_packages.rglob("*")]}
    try:
        for path in modes:
            path.chmod(modes[path] & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        result, stderr = run_installed(
            site_venv, origins[0].url, debug=False, PYTHONDONTWRITEBYTECODE="1"
        )
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
    assert stderr == []
    for client, via in WORKING.items():
        assert result[client] == via, client
    for decision in ALL_PATCHED:
        assert result[decision] is True, decision
    assert sorted(str(path) for path in site_packages.rglob("*")) == before
