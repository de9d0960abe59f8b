"""Opt-out: with LOOPBACK_SHIM_DISABLE=1 the process is the stock process, exactly.

The references the shim replaces are listed from a run where it is active (its
own record of applied patches), then inspected in three runs: the shim venv
with LOOPBACK_SHIM_DISABLE=1, the stock venv, and the shim venv active. In the
first two each reference must be the function its module defines, carry no
``__loopback_shim__`` marker and come from the same source line. The environment
the program sees must equal, byte for byte, the one it was started with.
"""

from __future__ import annotations

import json
import os

import pytest
from environments import proxy_environ

TARGET_IMPORTS = "import urllib.request, requests, urllib3, httpx, aiohttp, aiohttp.client_reqrep"

LIST_REFERENCES = (
    TARGET_IMPORTS
    + r"""
import inspect, json, sys
from loopback_shim import _patching

def owner_path(owner):
    if inspect.ismodule(owner):
        return [owner.__name__, ""]
    return [owner.__module__, owner.__qualname__]

references = sorted({tuple(owner_path(p.owner) + [p.name]) for p in _patching.applied_patches()})
print(json.dumps(references))
"""
)

INSPECT_REFERENCES = (
    TARGET_IMPORTS
    + r"""
import importlib, json, os, sys

def resolve(module_name, qualname):
    value = importlib.import_module(module_name)
    for part in filter(None, qualname.split(".")):
        value = getattr(value, part)
    return value

def source_of(value):
    code = getattr(getattr(value, "__func__", value), "__code__", None)
    if code is None:
        return None
    # Relative to the package directory, so two venvs compare equal.
    parts = code.co_filename.split(os.sep)
    for anchor in ("site-packages", "lib"):
        if anchor in parts:
            parts = parts[len(parts) - 1 - parts[::-1].index(anchor) + 1:]
            break
    return ["/".join(parts), code.co_firstlineno]

records = {}
for module_name, owner_qualname, name in json.loads(sys.argv[1]):
    owner = resolve(module_name, owner_qualname)
    value = getattr(owner, name)
    defined_module = getattr(value, "__module__", None)
    defined_qualname = getattr(value, "__qualname__", None)
    try:
        defined = resolve(defined_module, defined_qualname) is value
    except Exception:
        defined = False
    records["%s:%s.%s" % (module_name, owner_qualname, name)] = {
        "in_owner_dict": name in vars(owner),
        "shim_marker": hasattr(value, "__loopback_shim__"),
        "defined_in_module": defined,
        "qualified_name": "%s.%s" % (defined_module, defined_qualname),
        "source": source_of(value),
    }
print(json.dumps({
    "records": records,
    "shim_finders": sum(bool(getattr(f, "loopback_shim_marker", False)) for f in sys.meta_path),
}))
"""
)

DUMP_ENVIRON = (
    TARGET_IMPORTS
    + r"""
import json, os
print(json.dumps(sorted([key.hex(), value.hex()] for key, value in os.environb.items())))
"""
)


@pytest.fixture(scope="module")
def references(shim_env, trap):
    env = proxy_environ(trap.url.rstrip("/"))
    listed = shim_env.run_json(["-c", LIST_REFERENCES], env=env)
    return [tuple(reference) for reference in listed]


def inspect_references(interpreter, references, trap, **overrides):
    env = proxy_environ(trap.url.rstrip("/"), **overrides)
    return interpreter.run_json(["-c", INSPECT_REFERENCES, json.dumps(references)], env=env)


def test_patched_reference_list_covers_targets(references):
    owners = {module for module, _, _ in references}
    for module in ("urllib.request", "requests.utils", "urllib3.poolmanager"):
        assert module in owners
    assert any(module.startswith("httpx") for module in owners)
    assert any(module.startswith("aiohttp") for module in owners)
    assert len(references) >= 10


def test_disabled_references_are_stock(shim_env, stock_env, references, trap):
    disabled = inspect_references(shim_env, references, trap, LOOPBACK_SHIM_DISABLE="1")
    stock = inspect_references(stock_env, references, trap)

    assert disabled["shim_finders"] == 0
    for reference, record in disabled["records"].items():
        assert record["shim_marker"] is False, reference
        assert record["defined_in_module"] is True, reference
    assert disabled["records"] == stock["records"]


def test_active_references_differ_from_stock(shim_env, stock_env, references, trap):
    # The same inspection tells an active shim apart, so the checks above can fail.
    active = inspect_references(shim_env, references, trap)
    stock = inspect_references(stock_env, references, trap)

    assert active["shim_finders"] == 1
    for reference, record in active["records"].items():
        assert record["shim_marker"] is True, reference
    assert active["records"] != stock["records"]


def environ_bytes(env: dict[str, str]) -> dict[bytes, bytes]:
    environ = {os.fsencode(key): os.fsencode(value) for key, value in env.items()}
    # A value that is not UTF-8, and proxy settings the shim would otherwise extend.
    environ[b"LOOPBACK_TEST_RAW"] = b"\xff\xfe raw"
    environ[b"no_proxy"] = b" example.test ,.corp.example,"
    return environ


def dumped_environ(interpreter, environ: dict[bytes, bytes]) -> list[list[str]]:
    import subprocess

    completed = subprocess.run(
        [str(interpreter.python), "-c", DUMP_ENVIRON],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def expected_dump(environ: dict[bytes, bytes]) -> list[list[str]]:
    return sorted([key.hex(), value.hex()] for key, value in environ.items())


def test_disabled_environ_untouched(shim_env, trap):
    environ = environ_bytes(proxy_environ(trap.url.rstrip("/"), LOOPBACK_SHIM_DISABLE="1"))
    assert dumped_environ(shim_env, environ) == expected_dump(environ)


def test_active_environ_is_extended(shim_env, trap):
    # Without the opt-out the same start-up appends loopback entries to NO_PROXY.
    environ = environ_bytes(proxy_environ(trap.url.rstrip("/")))
    assert dumped_environ(shim_env, environ) != expected_dump(environ)
