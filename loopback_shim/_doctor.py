"""``loopback-shim doctor``: real requests to a loopback origin through a trap proxy.

The doctor starts an origin on 127.0.0.1 (and ::1 where it can bind) and a trap
proxy on 127.0.0.1 in threads of its own process. It points every proxy variable
of its children at the trap and runs each installed client in a fresh
interpreter of the current environment. The trap answers every request itself and forwards
nothing, so a request that reaches it is a loopback request the shim failed to
send direct.
"""

from __future__ import annotations

import http.server
import importlib.util
import inspect
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from . import _environ, _patching, _probe

CHILD_TIMEOUT_SECONDS = 60
_PROXY_NAMES = ("http_proxy", "https_proxy", "all_proxy")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    name = ""
    paths: list[str]


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(http.server.BaseHTTPRequestHandler):
    """Handler that replies ``{"via": <server name>}`` and records each request's target."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        self.server.paths.append(self.path)
        if self.command == "CONNECT":
            # A tunnel would need a real upstream: refuse it, still recorded.
            status, body = 403, b""
        else:
            status, body = 200, json.dumps({"via": self.server.name}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_CONNECT = _answer


class _RunningServer:
    def __init__(self, name: str, host: str, port: int = 0) -> None:
        server_class = _Server6 if ":" in host else _Server
        self.server = server_class((host, port), _Handler)
        self.server.name = name
        self.server.paths = []
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def installed_clients() -> list[str]:
    """Return the clients the doctor can run here; urllib.request is always present."""
    clients = ["urllib.request"]
    for name in _probe.CLIENTS[1:]:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            clients.append(name)
    return clients


def _start_servers() -> tuple[list[_RunningServer], _RunningServer, list[str]]:
    origin4 = _RunningServer("origin", "127.0.0.1")
    origins = [origin4]
    hosts = ["127.0.0.1", "localhost"]
    try:
        # The same port on ::1 lets "localhost" reach an origin whichever address
        # the resolver returns first.
        origins.append(_RunningServer("origin", "::1", origin4.port))
        hosts.append("[::1]")
    except OSError as exc:
        _patching.debug("doctor: no origin on ::1 (%s); IPv6 is skipped", exc)
    trap = _RunningServer("proxy", "127.0.0.1")
    urls = ["http://%s:%d/" % (host, origin4.port) for host in hosts]
    return origins, trap, urls


def _child_environ(trap_url: str, verbose: bool) -> dict[str, str]:
    environ = _environ.startup_environ()
    for name in list(environ):
        if _environ.is_proxy_variable(name):
            del environ[name]
    for name in _PROXY_NAMES:
        environ[name] = trap_url
        environ[name.upper()] = trap_url
    if verbose:
        environ["LOOPBACK_SHIM_DEBUG"] = "1"
    return environ


def _run_clients(
    clients: list[str], urls: list[str], environ: dict[str, str], verbose: bool
) -> list[dict[str, Any]]:
    """Run one fresh interpreter per client, all at once, and collect their reports."""
    source = inspect.getsource(_probe)
    children = []
    for client in clients:
        # Each URL gets a unique path, so the servers' records tell which request
        # reached the trap even when the client itself failed.
        client_urls = ["%sloopback-shim-doctor/%s" % (url, uuid.uuid4().hex) for url in urls]
        command = [sys.executable, "-c", source, client, *client_urls]
        process = subprocess.Popen(
            command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True,
        )
        children.append((client, client_urls, process))

    reports = []
    for client, client_urls, process in children:
        try:
            stdout, stderr = process.communicate(timeout=CHILD_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            stderr += "\ntimed out after %d s" % CHILD_TIMEOUT_SECONDS
        if verbose and stderr.strip():
            for line in stderr.strip().splitlines():
                sys.stderr.write(
                    "loopback-shim: [%s child] %s\n" % (client, _patching.redact(line))
                )
        try:
            report: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            last_line = (stderr.strip().splitlines() or ["no output"])[-1]
            failure = "child exited with status %s: %s" % (process.returncode, last_line)
            report = {
                "client": client,
                "activation": {"mode": "unknown", "detail": failure, "patched": []},
                "results": [{"url": url, "via": None, "error": failure} for url in client_urls],
                "no_proxy": {},
            }
        reports.append(report)
    return reports


def _route(result: dict[str, Any], trap_paths: list[str], origin_paths: list[str]) -> str:
    # The trap records the absolute form "http://host:port/path", an origin "/path".
    token = result["url"].rsplit("/", 1)[1]
    if any(token in path for path in trap_paths):
        return "proxied"
    if any(token in path for path in origin_paths):
        return "direct"
    return "error"


def site_activation() -> list[dict[str, Any]]:
    """Describe the start-up files in each site-packages directory of this interpreter."""
    import site

    directories = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        directories.append(site.getusersitepackages())
    rows = []
    for directory in dict.fromkeys(directories):
        root = Path(directory)
        boot = root / "_loopback_shim_boot.py"
        # Tools that strip sources leave only .pyc files, which Python imports too.
        boot_bytecode = root / "_loopback_shim_boot.pyc"
        patching = root / "loopback_shim" / "_patching"
        row = {
            "directory": str(root),
            "pth": (root / "loopback_shim.pth").is_file(),
            "start": (root / "loopback_shim.start").is_file(),
            "boot_module": boot.is_file() or boot_bytecode.is_file(),
            "package": any(patching.with_suffix(suffix).is_file() for suffix in (".py", ".pyc")),
            "loadable": False,
        }
        try:
            if boot.is_file():
                compile(boot.read_text(encoding="utf-8"), str(boot), "exec")
                row["loadable"] = bool(row["package"])
            elif boot_bytecode.is_file():
                import importlib.util

                with open(boot_bytecode, "rb") as file:
                    magic = file.read(len(importlib.util.MAGIC_NUMBER))
                if magic != importlib.util.MAGIC_NUMBER:
                    raise ValueError("%s was compiled for another Python version" % boot_bytecode)
                row["loadable"] = bool(row["package"])
        except (OSError, SyntaxError, ValueError) as exc:
            row["error"] = "%s: %s" % (type(exc).__name__, exc)
        if row["pth"] or row["start"] or row["boot_module"]:
            rows.append(row)
    return rows


def pythonpath_activation(environ: dict[str, str]) -> list[str]:
    """Return the PYTHONPATH entries that hold a sitecustomize.py of the shim."""
    entries = []
    for entry in environ.get("PYTHONPATH", "").split(os.pathsep):
        if not entry:
            continue
        candidate = Path(entry) / "sitecustomize.py"
        try:
            text = candidate.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "loopback-shim" in text or "_loopback_shim" in text:
            entries.append(entry)
    return entries


def run_doctor(verbose: bool) -> dict[str, Any]:
    """Run every installed client against the servers and return the full report."""
    # Described first: the helpers below import the boot module into this process.
    this_process = _probe.describe_activation()
    startup_values, startup_known = _environ.startup_no_proxy()
    shell_environ = _environ.startup_environ()
    disable_value = os.environ.get("LOOPBACK_SHIM_DISABLE")
    report: dict[str, Any] = {
        "python": sys.executable,
        "python_version": "%d.%d.%d" % sys.version_info[:3],
        "activation": {
            "site_packages": site_activation(),
            "pythonpath": pythonpath_activation(shell_environ),
            "disable_variable": disable_value,
            "disabled": _environ.is_truthy(disable_value),
            "this_process": this_process,
        },
        "proxy_variables": _environ.proxy_variables(shell_environ),
        "no_proxy": {
            "before": startup_values,
            "before_known": startup_known,
            "after": _environ.no_proxy_values(_environ.normalised(shell_environ)),
            "proxy_variable_set": _environ.has_proxy_variable(shell_environ),
        },
    }

    origins, trap, urls = _start_servers()
    try:
        trap_url = "http://127.0.0.1:%d" % trap.port
        environ = _child_environ(trap_url, verbose)
        _patching.debug("doctor: trap proxy %s, URLs %s", trap_url, " ".join(urls))
        reports = _run_clients(installed_clients(), urls, environ, verbose)
    finally:
        for server in [trap, *origins]:
            server.stop()

    trap_paths = list(trap.server.paths)
    origin_paths = [path for origin in origins for path in origin.server.paths]
    rows = []
    for child in reports:
        activation = child["activation"]
        for result in child["results"]:
            route = _route(result, trap_paths, origin_paths)
            rows.append({
                "client": child["client"],
                "url": result["url"].split("loopback-shim-doctor/")[0],
                "route": route,
                "error": _patching.redact(result["error"]) if result.get("error") else None,
                "shim": activation["mode"],
                "shim_detail": _patching.redact(activation.get("detail", "")),
                "patched": activation.get("patched", []),
            })
    report["trap_proxy"] = trap_url
    report["children_no_proxy"] = reports[0].get("no_proxy", {}) if reports else {}
    report["requests"] = rows
    report["proxied"] = sum(row["route"] == "proxied" for row in rows)
    report["errors"] = sum(row["route"] == "error" for row in rows)
    return report


def format_report(report: dict[str, Any]) -> str:
    """Render the doctor's report as the text the command prints."""
    lines = ["Python: %s (%s)" % (report["python"], report["python_version"]), ""]
    activation = report["activation"]
    lines.append("Activation")
    if not activation["site_packages"]:
        lines.append("  .pth/.start: no start-up file of the shim in this interpreter's"
                     " site-packages")
    for row in activation["site_packages"]:
        files = [name for name, key in (("loopback_shim.pth", "pth"),
                                        ("loopback_shim.start", "start")) if row[key]]
        state = "loadable" if row["loadable"] else "NOT loadable (%s)" % (
            row.get("error") or "_loopback_shim_boot.py or the loopback_shim package missing")
        lines.append("  .pth/.start: %s in %s, %s" % (
            " and ".join(files) or "no start-up file", row["directory"], state))
    if activation["pythonpath"]:
        for entry in activation["pythonpath"]:
            lines.append("  PYTHONPATH: copy of the shim in %s" % entry)
    else:
        lines.append("  PYTHONPATH: no copy of the shim")
    if activation["disabled"]:
        lines.append("  LOOPBACK_SHIM_DISABLE=%s: the shim is disabled"
                     % activation["disable_variable"])
    else:
        lines.append("  LOOPBACK_SHIM_DISABLE: %s" % (
            "not set" if activation["disable_variable"] is None
            else "%r (not a true value, ignored)" % activation["disable_variable"]))
    this = activation["this_process"]
    lines.append("  this process: %s (%s)" % (this["mode"], this["detail"]))
    lines.append("")

    lines.append("Proxy variables in this environment")
    for name, value in report["proxy_variables"].items():
        lines.append("  %s=%s" % (name, value))
    if not report["proxy_variables"]:
        lines.append("  none (the doctor sets its own for the children)")
    lines.append("")

    no_proxy = report["no_proxy"]
    lines.append("NO_PROXY")
    before_label = "before" if no_proxy["before_known"] else "before (as this process sees it)"
    for name, value in no_proxy["before"].items():
        lines.append("  %s %s: %s" % (name, before_label, _show(value)))
    for name, value in no_proxy["after"].items():
        lines.append("  %s after:  %s" % (name, _show(value)))
    if not no_proxy["proxy_variable_set"]:
        lines.append("  (no proxy variable is set here, so the shim leaves NO_PROXY alone)")
    for name, value in report["children_no_proxy"].items():
        lines.append("  %s in the children: %s" % (name, _show(value)))
    lines.append("")

    lines.append("Requests (every proxy variable of the children points at the trap proxy"
                 " %s)" % report["trap_proxy"])
    table = [("CLIENT", "URL", "ROUTE", "SHIM")]
    for row in report["requests"]:
        route = row["route"] if row["route"] != "error" else "error: %s" % row["error"]
        table.append((row["client"], row["url"], route, row["shim"]))
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        lines.append("  %s  %s  %s  %s" % (row[0].ljust(widths[0]), row[1].ljust(widths[1]),
                                           row[2].ljust(widths[2]), row[3]))
    details = sorted({(row["shim"], row["shim_detail"]) for row in report["requests"]})
    for mode, detail in details:
        lines.append("  shim %s: %s" % (mode, detail))
    lines.append("")

    if report["proxied"]:
        lines.append("FAIL: %d loopback request(s) went to the proxy." % report["proxied"])
        modes = {row["shim"] for row in report["requests"] if row["route"] == "proxied"}
        if "disabled" in modes:
            lines.append("  The shim is disabled: unset LOOPBACK_SHIM_DISABLE.")
        if "not active" in modes:
            lines.append("  The shim does not activate here: install loopback-shim in this"
                         " environment, or start programs with 'loopback-shim run -- CMD'.")
    if report["errors"]:
        lines.append("FAIL: %d request(s) failed." % report["errors"])
    if not report["proxied"] and not report["errors"]:
        lines.append("OK: every loopback request went direct.")
    return "\n".join(lines)


def _show(value: str | None) -> str:
    return "(unset)" if value is None else repr(value)
