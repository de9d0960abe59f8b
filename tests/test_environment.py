"""NO_PROXY for child processes: the loopback entries the shim appends at start-up.

Children that are not Python, or Python without the shim, only see the environment.
extend_environ_no_proxy must add what each client understands, keep what the user
wrote, and change nothing when no proxy is configured, because on macOS and Windows
a NO_PROXY alone turns off the system proxy settings.
"""

from __future__ import annotations

from typing import Any

import pytest
from environments import Interpreter, clean_environ, proxy_environ
from servers import RunningServer

import _loopback_shim_boot

LOOPBACK_ENTRIES = "localhost,.localhost,127.0.0.1,::1,127.0.0.0/8"
PROXY_URL = "http://proxy.example.test:3128"

# (user's NO_PROXY, value after start-up)
EXTENDED_VALUES = [
    ("127.*,localhost", "127.*,localhost,.localhost,127.0.0.1,::1,127.0.0.0/8"),
    ("127.0.0.0/8,localhost", "127.0.0.0/8,localhost,.localhost,127.0.0.1,::1"),
    ("localhost,127.0.0.1,::1", "localhost,127.0.0.1,::1,.localhost,127.0.0.0/8"),
    ("localhost, 127.0.0.1, [::1]", "localhost, 127.0.0.1, [::1],.localhost,::1,127.0.0.0/8"),
    (".localhost,127.0.0.1", ".localhost,127.0.0.1,localhost,::1,127.0.0.0/8"),
    ("*.example.test", "*.example.test," + LOOPBACK_ENTRIES),
    ("LOCALHOST", "LOCALHOST,.localhost,127.0.0.1,::1,127.0.0.0/8"),
    ("LOCALHOST,::1,127.0.0.1", "LOCALHOST,::1,127.0.0.1,.localhost,127.0.0.0/8"),
    ("a.example.test,,b.example.test,", "a.example.test,,b.example.test," + LOOPBACK_ENTRIES),
    (" api.example.test ", "api.example.test," + LOOPBACK_ENTRIES),
    ("::1/128,fe80::/10", "::1/128,fe80::/10," + LOOPBACK_ENTRIES),
    (LOOPBACK_ENTRIES, LOOPBACK_ENTRIES),
    (
        "127.0.0.0/8,::1,127.0.0.1,.localhost,localhost",
        "127.0.0.0/8,::1,127.0.0.1,.localhost,localhost",
    ),
]
STAR_VALUES = ["*", " * ", "*,api.example.test", "api.example.test, *", "*,localhost"]
PROXY_VARIABLES = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "ftp_proxy",
]


def extended(environ: dict[str, str]) -> dict[str, str]:
    """Return a copy of ``environ`` after extend_environ_no_proxy."""
    result = dict(environ)
    _loopback_shim_boot.extend_environ_no_proxy(result)
    return result


def entries(value: str) -> list[str]:
    return [entry.strip() for entry in value.split(",") if entry.strip()]


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"PATH": "/usr/bin"},
        {"NO_PROXY": "api.example.test"},
        {"no_proxy": "*"},
        {"HTTP_PROXY": ""},
        {"http_proxy": "   ", "NO_PROXY": "api.example.test"},
    ],
)
def test_no_proxy_variable_changes_nothing(environ):
    assert extended(environ) == environ


@pytest.mark.parametrize("variable", PROXY_VARIABLES)
def test_any_proxy_variable_adds_entries(variable):
    result = extended({variable: PROXY_URL})
    assert result["NO_PROXY"] == LOOPBACK_ENTRIES
    assert result["no_proxy"] == LOOPBACK_ENTRIES


@pytest.mark.parametrize("user_value, expected", EXTENDED_VALUES)
def test_missing_entries_appended(user_value, expected):
    result = extended({"HTTP_PROXY": PROXY_URL, "NO_PROXY": user_value})
    assert result["NO_PROXY"] == expected
    assert result["no_proxy"] == expected


@pytest.mark.parametrize("user_value, expected", EXTENDED_VALUES)
def test_user_entries_kept_first(user_value, expected):
    result = extended({"HTTP_PROXY": PROXY_URL, "no_proxy": user_value})
    user_entries = entries(user_value)
    assert entries(result["no_proxy"])[: len(user_entries)] == user_entries


@pytest.mark.parametrize("user_value, _expected", EXTENDED_VALUES)
def test_added_entries_safe_for_every_client(user_value, _expected):
    # httpx 0.28.1 raises in Client() for "[::1]" and for any IPv6 CIDR in NO_PROXY.
    result = extended({"HTTP_PROXY": PROXY_URL, "NO_PROXY": user_value})
    added = entries(result["NO_PROXY"])[len(entries(user_value)) :]
    for entry in added:
        assert entry in entries(LOOPBACK_ENTRIES)
        assert not entry.startswith("[")
        assert not (":" in entry and "/" in entry)
        assert " " not in entry


@pytest.mark.parametrize("user_value", STAR_VALUES)
def test_star_entry_left_alone(user_value):
    # "*" alone means "no proxy for any host". In a list, curl, urllib and requests
    # read it as a plain name, so every other host would go through the proxy.
    result = extended({"HTTP_PROXY": PROXY_URL, "NO_PROXY": user_value})
    assert result["NO_PROXY"] == user_value
    assert result.get("no_proxy", user_value) == user_value


def test_spellings_differ_keep_own_entries():
    # Clients disagree on which spelling wins (curl and requests read no_proxy first,
    # Go reads NO_PROXY first), so each keeps what the user wrote in it.
    result = extended(
        {"HTTP_PROXY": PROXY_URL, "no_proxy": "a.example.test", "NO_PROXY": "b.example.test"}
    )
    assert result["no_proxy"] == "a.example.test," + LOOPBACK_ENTRIES
    assert result["NO_PROXY"] == "b.example.test," + LOOPBACK_ENTRIES


def test_same_value_in_both_spellings():
    result = extended(
        {"HTTP_PROXY": PROXY_URL, "no_proxy": "a.example.test", "NO_PROXY": "a.example.test"}
    )
    assert result["no_proxy"] == "a.example.test," + LOOPBACK_ENTRIES
    assert result["NO_PROXY"] == "a.example.test," + LOOPBACK_ENTRIES


@pytest.mark.parametrize(
    "set_name, unset_name", [("no_proxy", "NO_PROXY"), ("NO_PROXY", "no_proxy")]
)
def test_one_spelling_copied_to_other(set_name, unset_name):
    result = extended({"https_proxy": PROXY_URL, set_name: "a.example.test"})
    assert result[set_name] == "a.example.test," + LOOPBACK_ENTRIES
    assert result[unset_name] == "a.example.test," + LOOPBACK_ENTRIES


def test_empty_spelling_counts_as_unset():
    result = extended({"HTTP_PROXY": PROXY_URL, "no_proxy": "", "NO_PROXY": "a.example.test"})
    assert result["no_proxy"] == "a.example.test," + LOOPBACK_ENTRIES
    assert result["NO_PROXY"] == "a.example.test," + LOOPBACK_ENTRIES


@pytest.mark.parametrize("user_value, _expected", EXTENDED_VALUES)
def test_extending_twice_changes_nothing(user_value, _expected):
    once = extended({"HTTP_PROXY": PROXY_URL, "NO_PROXY": user_value})
    assert extended(once) == once


def test_other_variables_untouched():
    environ = {"HTTP_PROXY": PROXY_URL, "PATH": "/usr/bin", "HOME": "/root"}
    result = extended(environ)
    assert {key: result[key] for key in environ} == environ
    assert set(result) == set(environ) | {"no_proxy", "NO_PROXY", "LOOPBACK_SHIM_NO_PROXY_BEFORE"}
    # What the user had set, for Python children, which inherit only the extension.
    assert result["LOOPBACK_SHIM_NO_PROXY_BEFORE"] == repr((None, None))


# Real interpreters: what a child process of a shim process inherits.

# The stock matchers take the added "127.0.0.1" as a suffix. So a name like
# "a.127.0.0.1" must still go to the proxy in three places: the process that
# extended NO_PROXY, the same process after deactivate() and activate(), and a
# Python child that inherited the extended value.
SUFFIX_DECISIONS = r"""
import json, subprocess, sys, urllib.request
import requests.utils
import loopback_shim

def decide():
    return {
        "urllib": bool(urllib.request.proxy_bypass("a.127.0.0.1")),
        "requests": bool(requests.utils.should_bypass_proxies("http://a.127.0.0.1/", None)),
        "loopback": bool(urllib.request.proxy_bypass("127.0.0.1")),
    }

if sys.argv[1:] == ["child"]:
    print(json.dumps(decide()))
    sys.exit()
first = decide()
loopback_shim.deactivate()
loopback_shim.activate()
again = decide()
child = subprocess.run([sys.executable, __file__, "child"], capture_output=True, text=True)
print(json.dumps({"first": first, "again": again, "child": json.loads(child.stdout)}))
"""


@pytest.mark.parametrize("user_no_proxy", [None, "api.example.test"])
def test_added_entry_suffix_proxied_in_child(shim_env, trap, tmp_path, user_no_proxy):
    script = tmp_path / "suffix_decisions.py"
    script.write_text(SUFFIX_DECISIONS)
    overrides = {} if user_no_proxy is None else {"NO_PROXY": user_no_proxy}
    env = proxy_environ(trap.url.rstrip("/"), **overrides)
    probe = shim_env.run_json([str(script)], env=env)
    expected = {"urllib": False, "requests": False, "loopback": True}
    assert probe["first"] == expected
    assert probe["again"] == expected
    assert probe["child"] == expected


# The child prints its own NO_PROXY and no_proxy, those a shell grandchild reads, and
# the results of requests.get from a grandchild in the stock venv, which has no shim.
INHERITANCE_PROBE = r"""
import json, os, subprocess, sys
shell = subprocess.run(["sh", "-c", 'printf "%s|%s" "$NO_PROXY" "$no_proxy"'],
                       capture_output=True, text=True).stdout
stock = None
if len(sys.argv) > 1:
    output = subprocess.run([sys.argv[1], "clients.py"] + sys.argv[2:],
                            capture_output=True, text=True).stdout
    stock = json.loads(output.strip().splitlines()[-1])
print(json.dumps({"NO_PROXY": os.environ.get("NO_PROXY"),
                  "no_proxy": os.environ.get("no_proxy"),
                  "shell": shell, "stock_requests": stock}))
"""


def stock_requests_args(stock_env: Interpreter, origins: list[RunningServer]) -> list[str]:
    args = [str(stock_env.python)]
    for origin in origins:
        args += ["requests_get", origin.url]
    return args


def test_child_environment_extended(shim_env, stock_env, origins, trap):
    env = proxy_environ(trap.url.rstrip("/"), no_proxy="127.*,localhost")
    probe: dict[str, Any] = shim_env.run_json(
        ["-c", INHERITANCE_PROBE, *stock_requests_args(stock_env, origins)], env=env
    )
    expected = "127.*,localhost,.localhost,127.0.0.1,::1,127.0.0.0/8"
    assert probe["NO_PROXY"] == expected
    assert probe["no_proxy"] == expected
    assert probe["shell"] == "%s|%s" % (expected, expected)
    # requests 2.34 without the shim reads 127.0.0.0/8 and ::1 from the environment.
    for result, origin in zip(probe["stock_requests"], origins):
        assert result["via"] == "origin", result
        assert result["origin"] == origin.server.name


def test_stock_child_environment_not_extended(stock_env, origins, trap):
    # The same probe without the shim: 127.* means nothing to requests.
    env = proxy_environ(trap.url.rstrip("/"), no_proxy="127.*,localhost")
    probe = stock_env.run_json(
        ["-c", INHERITANCE_PROBE, *stock_requests_args(stock_env, origins)], env=env
    )
    assert probe["NO_PROXY"] == "127.*,localhost"
    assert probe["no_proxy"] is None
    second = next(result for result in probe["stock_requests"] if "127.0.0.2" in result["url"])
    assert second["via"] == "trap-proxy"


@pytest.mark.parametrize("mode", ["installed", "injected"])
def test_no_proxy_variables_nothing_created(shim_env, stock_env, mode):
    interpreter, env = shim_env, clean_environ()
    if mode == "injected":
        inject_dir = shim_env.site_packages / "loopback_shim" / "_inject"
        interpreter, env = stock_env, clean_environ(PYTHONPATH=str(inject_dir))
    probe = interpreter.run_json(["-c", INHERITANCE_PROBE], env=env)
    assert probe["NO_PROXY"] is None
    assert probe["no_proxy"] is None
    assert probe["shell"] == "|"


def test_no_proxy_alone_left_alone(shim_env):
    probe = shim_env.run_json(
        ["-c", INHERITANCE_PROBE], env=clean_environ(NO_PROXY="api.example.test")
    )
    assert probe["NO_PROXY"] == "api.example.test"
    assert probe["no_proxy"] is None


def test_injected_child_environment_extended(shim_env, stock_env, trap):
    inject_dir = shim_env.site_packages / "loopback_shim" / "_inject"
    env = proxy_environ(
        trap.url.rstrip("/"), no_proxy="localhost, 127.0.0.1, [::1]", PYTHONPATH=str(inject_dir)
    )
    probe = stock_env.run_json(["-c", INHERITANCE_PROBE], env=env)
    expected = "localhost, 127.0.0.1, [::1],.localhost,::1,127.0.0.0/8"
    assert probe["NO_PROXY"] == expected
    assert probe["no_proxy"] == expected


@pytest.mark.parametrize("mode", ["installed", "injected"])
def test_disabled_environment_untouched(shim_env, stock_env, trap, mode):
    interpreter = shim_env
    overrides = {"LOOPBACK_SHIM_DISABLE": "1"}
    if mode == "injected":
        interpreter = stock_env
        overrides["PYTHONPATH"] = str(shim_env.site_packages / "loopback_shim" / "_inject")
    env = proxy_environ(trap.url.rstrip("/"), no_proxy="127.*,localhost", **overrides)
    probe = interpreter.run_json(["-c", INHERITANCE_PROBE], env=env)
    assert probe["NO_PROXY"] == "127.*,localhost"
    assert probe["no_proxy"] is None
    assert probe["shell"] == "127.*,localhost|"
    # With no_proxy unset too, nothing is created either.
    env = proxy_environ(trap.url.rstrip("/"), **overrides)
    probe = interpreter.run_json(["-c", INHERITANCE_PROBE], env=env)
    assert probe["NO_PROXY"] is None
    assert probe["no_proxy"] is None


# Values the boot module reads as true, in any case and with blanks around them.
@pytest.mark.parametrize("value, disabled", [("1", True), ("true", True), (" YES ", True),
                                             ("On", True), ("0", False), ("", False)])
def test_disable_values(shim_env, value, disabled):
    code = (
        "import json, sys, urllib.request\n"
        "print(json.dumps({\n"
        "    'finders': len([f for f in sys.meta_path\n"
        "                    if getattr(f, 'loopback_shim_marker', False)]),\n"
        "    'patched': hasattr(urllib.request.proxy_bypass, '__loopback_shim__'),\n"
        "    'boot_loaded': '_loopback_shim_boot' in sys.modules}))\n"
    )
    probe = shim_env.run_json(["-c", code], env=clean_environ(LOOPBACK_SHIM_DISABLE=value))
    assert probe["finders"] == (0 if disabled else 1)
    assert probe["patched"] is not disabled
    # The .pth line itself skips the boot module for "1", the documented value, so
    # that an opted-out process pays only for the line.
    assert probe["boot_loaded"] is (value != "1")
