"""Activation: once per process, late or early, never breaking an import or start-up.

Every check runs a real interpreter from the pip-installed venv or from the stock
venv with the shim injected through PYTHONPATH.
"""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import pytest
from environments import REPO, Interpreter, clean_environ, proxy_environ

# Run in the probe process: every way the shim may be started, all in one process.
ACTIVATE_EVERY_WAY = r"""
import importlib.util, json, os, sys, sysconfig
site_packages = sysconfig.get_paths()["purelib"]
pth = os.path.join(site_packages, "loopback_shim.pth")
if os.path.exists(pth):
    # site has run this line twice already (CPython 3.8 to 3.14 in a venv), each
    # time inside site.addpackage, whose local sitedir the line reads.
    line = open(pth).read()
    exec(line, {}, {"sitedir": site_packages})
    exec(line, {}, {"sitedir": site_packages})
import loopback_shim
loopback_shim.activate()
loopback_shim.activate()
# A second copy of the boot module, as another installed version would bring.
boot_path = sys.modules["_loopback_shim_boot"].__file__
spec = importlib.util.spec_from_file_location("_loopback_shim_boot_copy", boot_path)
copy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(copy)
copy.activate()
# importlib.reload() runs the boot module's body again in the module object that
# sits on sys.meta_path as the finder.
importlib.reload(sys.modules["_loopback_shim_boot"])
sys.modules["_loopback_shim_boot"].activate()

import urllib.request, requests, urllib3
from loopback_shim import _patching

def describe(function):
    return {"shim": getattr(function, "__loopback_shim__", False),
            "module": getattr(function, "__module__", None),
            "name": getattr(function, "__name__", None),
            "wrapped": hasattr(function, "__wrapped__")}

proxy_manager = urllib3.poolmanager.ProxyManager
print(json.dumps({
    "patches": [[getattr(p.owner, "__name__", repr(p.owner)), p.name]
                for p in _patching.applied_patches()],
    "finders": len([f for f in sys.meta_path if getattr(f, "loopback_shim_marker", False)]),
    "sitecustomize": getattr(sys.modules.get("sitecustomize"), "__file__", None),
    "originals": {
        "proxy_bypass": describe(urllib.request.proxy_bypass.__wrapped__),
        "select_proxy": describe(requests.utils.select_proxy.__wrapped__),
        "rebuild_proxies": describe(
            requests.sessions.SessionRedirectMixin.rebuild_proxies.__wrapped__),
        "connection_from_host": describe(proxy_manager.connection_from_host.__wrapped__),
    },
    "bypass": urllib.request.proxy_bypass("127.0.0.2"),
}))
"""


def installed_inject_dir(shim_env: Interpreter) -> Path:
    return shim_env.site_packages / "loopback_shim" / "_inject"


@pytest.mark.parametrize("mode", ["installed", "checkout"])
def test_activation_patches_once(shim_env, stock_env, trap, mode):
    if mode == "installed":
        # The .pth line, the injected sitecustomize and activate() in one process.
        interpreter = shim_env
        pythonpath = installed_inject_dir(shim_env)
    else:
        interpreter, pythonpath = stock_env, REPO
    env = proxy_environ(trap.url.rstrip("/"), PYTHONPATH=str(pythonpath))
    probe = interpreter.run_json(["-c", ACTIVATE_EVERY_WAY], env=env)

    patches = [tuple(patch) for patch in probe["patches"]]
    assert len(patches) == len(set(patches)), patches
    assert ("urllib.request", "proxy_bypass") in patches
    assert ("requests.utils", "select_proxy") in patches
    assert ("requests.adapters", "select_proxy") in patches
    assert ("SessionRedirectMixin", "rebuild_proxies") in patches
    assert ("ProxyManager", "connection_from_host") in patches
    assert probe["finders"] == 1
    assert probe["sitecustomize"].startswith(str(pythonpath))
    # Each wrapper wraps the stock function, not another wrapper.
    expected_modules = {
        "proxy_bypass": "urllib.request",
        "select_proxy": "requests.utils",
        "rebuild_proxies": "requests.sessions",
        "connection_from_host": "urllib3.poolmanager",
    }
    for name, original in probe["originals"].items():
        assert original["shim"] is False, name
        assert original["wrapped"] is False, name
        assert original["module"] == expected_modules[name], name
    assert probe["bypass"] is True


# Targets imported, and proxy_bypass bound by name elsewhere, before activate().
IMPORTED_BEFORE_ACTIVATE = r"""
import json, sys, types
import urllib.request, requests, urllib3
consumer = types.ModuleType("consumer")
sys.modules["consumer"] = consumer
exec("from urllib.request import proxy_bypass\n"
     "from requests.utils import select_proxy", consumer.__dict__)
stock_bypass = urllib.request.proxy_bypass
import clients
url = sys.argv[2]
before = {"bypass": consumer.proxy_bypass("127.0.0.2"),
          "requests": clients.run("requests_get", url)["via"],
          "urlopen": clients.run("urlopen", url)["via"]}
sys.path.insert(0, sys.argv[1])
import loopback_shim
loopback_shim.activate()
print(json.dumps({
    "before": before,
    "wraps_stock": urllib.request.proxy_bypass.__wrapped__ is stock_bypass,
    "consumer_bypass": consumer.proxy_bypass is urllib.request.proxy_bypass,
    "requests_utils_bypass": requests.utils.proxy_bypass is urllib.request.proxy_bypass,
    "requests_compat_bypass": requests.compat.proxy_bypass is urllib.request.proxy_bypass,
    "consumer_select_proxy": consumer.select_proxy is requests.utils.select_proxy,
    "adapters_select_proxy": requests.adapters.select_proxy is requests.utils.select_proxy,
    "select_proxy_patched": hasattr(requests.utils.select_proxy, "__loopback_shim__"),
    "proxy_manager_patched": hasattr(
        urllib3.ProxyManager.connection_from_host, "__loopback_shim__"),
    "after": {"bypass": consumer.proxy_bypass("127.0.0.2"),
              "requests": clients.run("requests_get", url)["via"],
              "urlopen": clients.run("urlopen", url)["via"],
              "proxymanager": clients.run("urllib3_proxymanager", url)["via"]},
}))
"""


def test_imported_targets_patched_at_once(stock_env, origins, trap):
    second = next(origin for origin in origins if origin.host == "127.0.0.2")
    env = proxy_environ(trap.url.rstrip("/"))
    probe = stock_env.run_json(["-c", IMPORTED_BEFORE_ACTIVATE, str(REPO), second.url], env=env)
    # Stock, before the call.
    assert probe["before"] == {"bypass": False, "requests": "trap-proxy", "urlopen": "trap-proxy"}
    assert probe["wraps_stock"] is True
    assert probe["consumer_bypass"] is True
    assert probe["requests_utils_bypass"] is True
    assert probe["requests_compat_bypass"] is True
    assert probe["consumer_select_proxy"] is True
    assert probe["adapters_select_proxy"] is True
    assert probe["select_proxy_patched"] is True
    assert probe["proxy_manager_patched"] is True
    assert probe["after"] == {
        "bypass": True,
        "requests": "origin",
        "urlopen": "origin",
        "proxymanager": "origin",
    }


# The boot module is the finder on sys.meta_path. A program that drops it from
# sys.modules must not switch the finder off.
BOOT_MODULE_DROPPED = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import loopback_shim
loopback_shim.activate()
del sys.modules["_loopback_shim_boot"]
import clients
import urllib.request, requests
print(json.dumps({
    "urllib_patched": hasattr(urllib.request.proxy_bypass, "__loopback_shim__"),
    "requests_patched": hasattr(requests.utils.select_proxy, "__loopback_shim__"),
    "requests": clients.run("requests_get", sys.argv[2])["via"],
}))
"""


def test_boot_module_dropped_from_sys_modules(stock_env, origins, trap):
    env = proxy_environ(trap.url.rstrip("/"))
    probe = stock_env.run_json(["-c", BOOT_MODULE_DROPPED, str(REPO), origins[0].url], env=env)
    assert probe["urllib_patched"] is True
    assert probe["requests_patched"] is True
    assert probe["requests"] == "origin"


# A package named requests whose internals are not what the patch expects.
FAKE_REQUESTS_UTILS = """
def select_proxy(url, proxies):
    return proxies.get("http")
"""
FAKE_REQUESTS_ADAPTERS = {
    # Reading an attribute raises something other than AttributeError.
    "adapters_raise": """
from .utils import select_proxy

def __getattr__(name):
    if name == "parse_url":
        raise RuntimeError("broken adapters module")
    raise AttributeError(name)
""",
    # select_proxy is wrapped first, then the missing class fails the group, which undoes it.
    "class_missing": """
from .utils import select_proxy
""",
}
BROKEN_TARGET_PROBE = r"""
import json, urllib.request
import requests
import requests.adapters, requests.utils
from loopback_shim import _patching
_patching.apply("requests", requests)  # a second try must neither raise nor log again
print(json.dumps({
    "select_proxy": requests.adapters.select_proxy("http://127.0.0.2:1/", {"http": "http://p"}),
    "utils_patched": hasattr(requests.utils.select_proxy, "__loopback_shim__"),
    "adapters_patched": hasattr(requests.adapters.select_proxy, "__loopback_shim__"),
    "adapters_is_utils": requests.adapters.select_proxy is requests.utils.select_proxy,
    "urllib_bypass": urllib.request.proxy_bypass("127.0.0.2"),
}))
"""


def write_fake_requests(root: Path, fault: str) -> None:
    package = root / "requests"
    package.mkdir()
    (package / "__init__.py").write_text("from . import adapters, sessions, utils\n")
    (package / "utils.py").write_text(FAKE_REQUESTS_UTILS)
    (package / "adapters.py").write_text(textwrap.dedent(FAKE_REQUESTS_ADAPTERS[fault]))
    (package / "sessions.py").write_text("class Session:\n    pass\n")


@pytest.mark.parametrize("fault", sorted(FAKE_REQUESTS_ADAPTERS))
def test_broken_target_keeps_stock(shim_env, trap, tmp_path, fault):
    write_fake_requests(tmp_path, fault)
    env = proxy_environ(
        trap.url.rstrip("/"), PYTHONPATH=str(tmp_path), LOOPBACK_SHIM_DEBUG="1"
    )
    completed = shim_env.run(["-c", BROKEN_TARGET_PROBE], env=env)
    probe = json.loads(completed.stdout.strip().splitlines()[-1])
    assert probe["select_proxy"] == "http://p"
    assert probe["utils_patched"] is False
    assert probe["adapters_patched"] is False
    assert probe["adapters_is_utils"] is True
    # The other targets are patched as usual.
    assert probe["urllib_bypass"] is True
    messages = [line for line in completed.stderr.splitlines() if "failed" in line]
    assert len(messages) == 1, completed.stderr
    assert messages[0].startswith("loopback-shim: patching requests failed"), messages


def test_broken_target_silent_without_debug(shim_env, trap, tmp_path):
    write_fake_requests(tmp_path, "adapters_raise")
    env = proxy_environ(trap.url.rstrip("/"), PYTHONPATH=str(tmp_path))
    completed = shim_env.run(["-c", BROKEN_TARGET_PROBE], env=env)
    assert completed.stderr == ""


# A user's sitecustomize after the injected directory on PYTHONPATH.
USER_SITECUSTOMIZE = {
    "runs": """
import os, sys
os.environ["USER_SITECUSTOMIZE"] = "ran, shim active: %s" % any(
    getattr(finder, "loopback_shim_marker", False) for finder in sys.meta_path)
""",
    "raises": """
raise RuntimeError("user sitecustomize failed")
""",
}
CHAIN_PROBE = r"""
import json, os, sys, urllib.request
print(json.dumps({
    "user": os.environ.get("USER_SITECUSTOMIZE"),
    "sitecustomize": getattr(sys.modules.get("sitecustomize"), "__file__", None),
    "patched": hasattr(urllib.request.proxy_bypass, "__loopback_shim__"),
    "bypass": urllib.request.proxy_bypass("127.0.0.2"),
}))
"""


@pytest.mark.parametrize("mode", ["injected", "checkout"])
def test_user_sitecustomize_chained(shim_env, stock_env, trap, tmp_path, mode):
    (tmp_path / "sitecustomize.py").write_text(USER_SITECUSTOMIZE["runs"])
    first = installed_inject_dir(shim_env) if mode == "injected" else REPO
    env = proxy_environ(trap.url.rstrip("/"), PYTHONPATH="%s:%s" % (first, tmp_path))
    completed = stock_env.run(["-c", CHAIN_PROBE], env=env)
    probe = json.loads(completed.stdout.strip().splitlines()[-1])
    assert probe["user"] == "ran, shim active: True"
    assert probe["sitecustomize"] == str(tmp_path / "sitecustomize.py")
    assert probe["patched"] is True
    assert probe["bypass"] is True
    assert completed.stderr == ""


def test_failing_user_sitecustomize_reported(shim_env, stock_env, trap, tmp_path):
    (tmp_path / "sitecustomize.py").write_text(USER_SITECUSTOMIZE["raises"])
    pythonpath = "%s:%s" % (installed_inject_dir(shim_env), tmp_path)
    env = proxy_environ(trap.url.rstrip("/"), PYTHONPATH=pythonpath)
    completed = stock_env.run(["-c", CHAIN_PROBE], env=env)
    # The message site itself prints for a failing sitecustomize, then start-up goes on.
    assert completed.stderr.splitlines() == [
        "Error in sitecustomize; set PYTHONVERBOSE for traceback:",
        "RuntimeError: user sitecustomize failed",
    ]
    assert '"patched": true' in completed.stdout


def test_injected_copy_keeps_other_site_packages_off_path(shim_env, stock_env, trap):
    shim_site_packages = str(shim_env.site_packages)
    stock_site_packages = str(stock_env.site_packages)
    code = (
        "import json, sys, requests, loopback_shim, _loopback_shim_boot\n"
        "print(json.dumps({'path': sys.path, 'requests': requests.__file__,\n"
        "    'shim': loopback_shim.__file__, 'boot': _loopback_shim_boot.__file__}))\n"
    )
    env = proxy_environ(trap.url.rstrip("/"), PYTHONPATH=str(installed_inject_dir(shim_env)))
    probe = stock_env.run_json(["-c", code], env=env)
    assert shim_site_packages not in probe["path"]
    assert probe["shim"].startswith(shim_site_packages)
    assert probe["boot"].startswith(shim_site_packages)
    assert probe["requests"].startswith(stock_site_packages)


def imported_modules(interpreter: Interpreter, env: dict[str, str]) -> set[str]:
    """Return the modules that ``-X importtime -c pass`` reports."""
    completed = interpreter.run(["-X", "importtime", "-c", "pass"], env=env)
    names = set()
    for line in completed.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


def modules_after_startup(interpreter: Interpreter, env: dict[str, str]) -> set[str]:
    # repr() and print() import nothing, unlike json.
    completed = interpreter.run(["-c", "import sys; print(sorted(sys.modules))"], env=env)
    return set(ast.literal_eval(completed.stdout.strip()))


def pth_file_modules(interpreter: Interpreter) -> set[str]:
    """Return the modules that reading any .pth file imports at start-up.

    The stock venv has no .pth file at all. CPython 3.9's site reads one through a
    TextIOWrapper with the locale encoding, which imports _bootlocale and _locale,
    and 3.13's site decodes it as utf-8-sig. 3.10 to 3.12 import nothing for it.
    """
    code = "import sys; print('%d %d' % sys.version_info[:2])"
    major, minor = interpreter.run(["-c", code]).stdout.split()
    version = (int(major), int(minor))
    if version < (3, 10):
        return {"_bootlocale", "_locale"}
    if version >= (3, 13):
        return {"encodings.utf_8_sig"}
    return set()


@pytest.mark.parametrize("proxies", ["proxy variables", "no proxy variables"])
def test_startup_adds_one_module(shim_env, stock_env, trap, proxies):
    env = clean_environ()
    if proxies == "proxy variables":
        env = proxy_environ(trap.url.rstrip("/"), no_proxy="127.*")
    pth_modules = pth_file_modules(shim_env)
    shim_imports = imported_modules(shim_env, env) - pth_modules
    stock_imports = imported_modules(stock_env, env)
    assert shim_imports - stock_imports == {"_loopback_shim_boot"}
    assert stock_imports - shim_imports == set()
    shim_modules = modules_after_startup(shim_env, env) - pth_modules
    stock_modules = modules_after_startup(stock_env, env)
    assert shim_modules - stock_modules == {"_loopback_shim_boot"}
    assert stock_modules - shim_modules == set()
