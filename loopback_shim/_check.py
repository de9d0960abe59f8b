"""``loopback-shim check``: each library's proxy decision for URLs, stock and with the shim.

Two fresh interpreters of the current environment compute the decisions with the
libraries' own functions and send nothing: one with LOOPBACK_SHIM_DISABLE=1 and
NO_PROXY as this process received it (stock), one with the shim active.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import _decide, _environ, _patching
from ._loopback import is_loopback_host

CHILD_TIMEOUT_SECONDS = 60
_ACTIVE_MODES = (".pth", ".start", "PYTHONPATH")


class CheckError(Exception):
    """A decision interpreter failed; the message is safe to print."""


def validate_url(url: str) -> str | None:
    """Return why ``url`` cannot be checked, or None if it can."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return "invalid URL %r: %s" % (_patching.redact(url), exc)
    if parts.scheme.lower() not in ("http", "https") or not hostname:
        return "invalid URL %r: expected http:// or https:// and a host" % _patching.redact(url)
    return None


def _decision_environ(
    mode: str, proxy: str | None, no_proxy: str | None, verbose: bool
) -> dict[str, str]:
    environ = _environ.startup_environ()
    if proxy is not None:
        for name in list(environ):
            if _environ.is_proxy_variable(name):
                del environ[name]
        for name in ("http_proxy", "https_proxy"):
            environ[name] = environ[name.upper()] = proxy
    if no_proxy is not None:
        for name in _environ.NO_PROXY_NAMES:
            if no_proxy:
                environ[name] = no_proxy
            else:
                environ.pop(name, None)
    if mode == "stock":
        environ["LOOPBACK_SHIM_DISABLE"] = "1"
    if verbose:
        environ["LOOPBACK_SHIM_DEBUG"] = "1"
    return environ


def _start_child(mode: str, urls: list[str], environ: dict[str, str]) -> subprocess.Popen[str]:
    shim_root = str(Path(__file__).resolve().parent.parent)
    command = [sys.executable, "-c", inspect.getsource(_decide), mode, shim_root, *urls]
    return subprocess.Popen(
        command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, text=True,
    )


def _collect(mode: str, process: subprocess.Popen[str], verbose: bool) -> dict[str, Any]:
    try:
        stdout, stderr = process.communicate(timeout=CHILD_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise CheckError("the %s decision interpreter timed out after %d s"
                         % (mode, CHILD_TIMEOUT_SECONDS)) from None
    if verbose and stderr.strip():
        for line in stderr.strip().splitlines():
            sys.stderr.write("loopback-shim: [%s child] %s\n" % (mode, _patching.redact(line)))
    try:
        result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        last = stderr.strip().splitlines()[-1:] or ["no output"]
        raise CheckError("the %s decision interpreter failed with exit status %s: %s"
                         % (mode, process.returncode, _patching.redact(last[0]))) from None
    return result


def run_check(
    urls: list[str], proxy: str | None, no_proxy: str | None, verbose: bool
) -> dict[str, Any]:
    """Compute every decision for ``urls``; raise CheckError if an interpreter fails."""
    stock_environ = _decision_environ("stock", proxy, no_proxy, verbose)
    shim_environ = _decision_environ("shim", proxy, no_proxy, verbose)
    stock_process = _start_child("stock", urls, stock_environ)
    shim_process = _start_child("shim", urls, shim_environ)
    stock = _collect("stock", stock_process, verbose)
    shim = _collect("shim", shim_process, verbose)

    disabled = _environ.is_truthy(os.environ.get("LOOPBACK_SHIM_DISABLE"))
    startup_mode = (shim.get("activation") or {}).get("mode", "not active")
    applies = "shim" if startup_mode in _ACTIVE_MODES and not disabled else "stock"

    shim_by_key = {(d["url"], d["library"]): d for d in shim["decisions"]}
    rows = []
    for stock_decision in stock["decisions"]:
        key = (stock_decision["url"], stock_decision["library"])
        shim_decision = shim_by_key.get(key, {"route": "error", "proxy": None,
                                              "reason": "not decided"})
        rows.append({
            "url": _patching.redact(key[0]),
            "library": key[1],
            "loopback": is_loopback_host(urlsplit(key[0]).hostname or ""),
            "stock": _redacted(stock_decision),
            "shim": _redacted(shim_decision),
        })
    findings = [row for row in rows if row["loopback"] and row[applies]["route"] == "proxied"]
    return {
        "proxy_variables": _environ.proxy_variables(shim_environ),
        "no_proxy": _environ.no_proxy_values(stock_environ),
        "startup_activation": startup_mode,
        "applies": applies,
        "decisions": rows,
        "findings": len(findings),
    }


def _redacted(decision: dict[str, Any]) -> dict[str, Any]:
    return {
        "route": decision["route"],
        "proxy": _patching.redact(decision["proxy"]) if decision.get("proxy") else None,
        "reason": _patching.redact(decision["reason"]),
    }


def format_report(report: dict[str, Any]) -> str:
    lines = []
    variables = report["proxy_variables"]
    lines.append("Proxy variables: %s" % (
        ", ".join("%s=%s" % item for item in variables.items()) or "none"))
    no_proxy = report["no_proxy"]
    lines.append("NO_PROXY (stock): %s" % ", ".join(
        "%s=%s" % (name, "(unset)" if value is None else repr(value))
        for name, value in no_proxy.items()))
    lines.append("")
    table = [("URL", "LIBRARY", "STOCK", "WITH SHIM")]
    for row in report["decisions"]:
        table.append((row["url"], row["library"], _cell(row["stock"]), _cell(row["shim"])))
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        lines.append("%s  %s  %s  %s" % (row[0].ljust(widths[0]), row[1].ljust(widths[1]),
                                         row[2].ljust(widths[2]), row[3]))
    lines.append("")
    if any(row["library"] == "aiohttp" for row in report["decisions"]):
        lines.append("aiohttp reads proxy variables only with ClientSession(trust_env=True);"
                     " its rows show that case.")
    if not report["proxy_variables"]:
        lines.append("No proxy variable is set, so every library goes direct; --proxy URL"
                     " shows the decisions behind a proxy.")
    if report["applies"] == "stock":
        lines.append("The shim does not activate in this environment (%s), so programs here"
                     " get the STOCK column." % report["startup_activation"])
    if report["findings"]:
        lines.append("FAIL: %d decision(s) send a loopback URL to a proxy." % report["findings"])
    else:
        lines.append("OK: no library sends a loopback URL to a proxy.")
    return "\n".join(lines)


def _cell(decision: dict[str, Any]) -> str:
    route = decision["route"]
    if route == "proxied" and decision["proxy"]:
        return "proxied to %s (%s)" % (decision["proxy"], decision["reason"])
    return "%s (%s)" % (route, decision["reason"])
