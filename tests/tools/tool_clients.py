"""Drive real tools against loopback servers and print which server responded, as JSON.

Run inside the tools venv: ``python tools/tool_clients.py SPEC`` where SPEC is a
JSON object ``{"cases": [...], "bound": [...], "versions": [...]}``, plus the keys
of a late activation below. Each case names a client and a target. The last line
of output is a JSON object. Its ``results`` list has, for each case, ``via``
("origin", "trap-proxy" or "error"), the target used and details. ``bound`` tells
for each named module global whether it is the shim's wrapper, and ``versions``
gives each named distribution's installed version. Proxies come from the
environment the test sets, as for a user who exported them.

With ``activate_after_import`` the script is meant to run under ``python -S``. It
adds ``site_packages`` to sys.path by hand (so no .pth file runs), imports the
listed modules, runs the cases marked ``before_activation``, then calls
``loopback_shim.activate()`` and runs the others. This is the import order of a
program that activates the shim itself after its HTTP libraries are loaded.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

# Seconds for one request. A child process gets CHILD_TIMEOUT, because on a busy
# machine starting node or pip alone can take many seconds.
TIMEOUT = 30
CHILD_TIMEOUT = 120
# Clients that only wait on a child process, so running them in threads is safe.
CHILD_PROCESS_CLIENTS = frozenset(("pip_download", "curl", "wget", "node_fetch"))
# The payload a gRPC or WebSocket echo must return for the call to count as direct.
PROBE = b"loopback-probe"


def via_boto3_list_buckets(case: dict[str, Any]) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    config = Config(
        proxies=case.get("proxies"),
        retries={"total_max_attempts": 1},
        connect_timeout=TIMEOUT,
        read_timeout=TIMEOUT,
    )
    client = boto3.client("s3", endpoint_url=case["target"], config=config)
    response = client.list_buckets()
    buckets = [bucket["Name"] for bucket in response.get("Buckets", [])]
    return {
        "via": "origin" if buckets and buckets[0].startswith("stub-") else "unexpected",
        "request_line": response.get("Owner", {}).get("DisplayName"),
        "buckets": buckets,
    }


def via_selenium_new_session(case: dict[str, Any]) -> dict[str, Any]:
    from selenium.webdriver.common.proxy import Proxy, ProxyType
    from selenium.webdriver.remote.client_config import ClientConfig
    from selenium.webdriver.remote.command import Command
    from selenium.webdriver.remote.remote_connection import RemoteConnection

    # selenium 4.32 reads config.proxy.proxy_type without a None check, so the
    # default (a SYSTEM proxy, which reads the environment) must stay unless the
    # case sets a manual proxy.
    options: dict[str, Any] = {"remote_server_addr": case["target"], "timeout": TIMEOUT}
    if case.get("manual_proxy"):
        options["proxy"] = Proxy({"proxyType": ProxyType.MANUAL, "httpProxy": case["manual_proxy"]})
    config = ClientConfig(**options)
    connection = RemoteConnection(client_config=config)
    try:
        answer = connection.execute(Command.NEW_SESSION, {"capabilities": {}})
    finally:
        connection.close()
    return {"via": answer.get("via"), "request_line": answer.get("request_line")}


def via_websocket_echo(case: dict[str, Any]) -> dict[str, Any]:
    import websocket

    connection = websocket.create_connection(case["target"], timeout=TIMEOUT)
    try:
        connection.send_binary(PROBE)
        answer = connection.recv()
    finally:
        connection.close()
    return {"via": "origin" if answer == PROBE else "unexpected"}


_grpc_servers: dict[str, Any] = {}


def _grpc_target(host: str) -> str:
    """Start (once) a grpcio echo server on ``host`` and return its target."""
    if host not in _grpc_servers:
        from concurrent import futures

        import grpc

        def echo(request: bytes, context: Any) -> bytes:
            return request

        handler = grpc.method_handlers_generic_handler(
            "loopback.Echo", {"Call": grpc.unary_unary_rpc_method_handler(echo)}
        )
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        server.add_generic_rpc_handlers((handler,))
        # "localhost" binds the server on 127.0.0.1 but keeps the name in the target,
        # because the name is what gRPC's proxy mapper matches against no_proxy.
        bind_host = "127.0.0.1" if host == "localhost" else host
        bind = "[%s]:0" % bind_host if ":" in bind_host else "%s:0" % bind_host
        port = server.add_insecure_port(bind)
        server.start()
        name = "[%s]" % host if ":" in host else host
        _grpc_servers[host] = (server, "%s:%d" % (name, port))
    return str(_grpc_servers[host][1])


def via_grpc_unary(case: dict[str, Any]) -> dict[str, Any]:
    import grpc

    target = case["target"] = _grpc_target(case["target"])
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary("/loopback.Echo/Call")
        answer = call(PROBE, timeout=TIMEOUT)
    return {"via": "origin" if answer == PROBE else "unexpected", "target": target}


def via_pip_download(case: dict[str, Any]) -> dict[str, Any]:
    """Run this venv's pip on a loopback index, with the proxy from ``case["proxy_source"]``.

    "environment" keeps the proxy variables. "option" passes ``--proxy`` and
    "pip_proxy" sets PIP_PROXY. Both remove the proxy variables, so that the option
    is the only source of the proxy. PIP_CONFIG_FILE=os.devnull skips every
    pip configuration file, including the machine's global one, which ``--isolated``
    alone still reads (pip 26.3 ``Configuration.iter_config_files``).
    """
    environ = dict(os.environ, PIP_CONFIG_FILE=os.devnull)
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
        "--disable-pip-version-check", "--retries", "0", "--timeout", str(TIMEOUT),
        "--index-url", case["target"],
    ]
    source = case["proxy_source"]
    if source != "environment":
        for name in list(environ):
            if name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
                del environ[name]
    if source == "pip_proxy":
        # --isolated would make pip ignore PIP_PROXY, so this run goes without it.
        environ["PIP_PROXY"] = case["proxy"]
    else:
        command.append("--isolated")
    if source == "option":
        command += ["--proxy", case["proxy"]]
    with tempfile.TemporaryDirectory() as dest:
        command += ["-d", dest, case["project"]]
        completed = subprocess.run(
            command, env=environ, capture_output=True, text=True, timeout=CHILD_TIMEOUT
        )
        downloaded = sorted(path.name for path in Path(dest).iterdir())
    if completed.returncode != 0:
        return {"via": "error", "error": completed.stderr.strip()[-2000:]}
    return {"via": "origin", "downloaded": downloaded}


def _run_child(command: list[str], environ: dict[str, str] | None = None) -> dict[str, Any]:
    completed = subprocess.run(
        command, env=environ, capture_output=True, text=True, timeout=CHILD_TIMEOUT
    )
    if completed.returncode != 0:
        return {"via": "error", "error": "exit %d: %s" % (completed.returncode, completed.stderr)}
    answer = json.loads(completed.stdout)
    return {"via": answer.get("via"), "request_line": answer.get("request_line")}


def via_curl(case: dict[str, Any]) -> dict[str, Any]:
    return _run_child(["curl", "-sS", "--max-time", str(TIMEOUT), case["target"]])


def via_wget(case: dict[str, Any]) -> dict[str, Any]:
    return _run_child(
        ["wget", "-q", "-O", "-", "--tries=1", "--timeout=%d" % TIMEOUT, case["target"]]
    )


_NODE_FETCH = """
fetch(process.argv[1], {signal: AbortSignal.timeout(%d)})
  .then((response) => response.text())
  .then((text) => { process.stdout.write(text); })
  .catch((error) => { console.error(String(error.cause || error)); process.exit(1); });
""" % (TIMEOUT * 1000)


def via_node_fetch(case: dict[str, Any]) -> dict[str, Any]:
    # NODE_USE_ENV_PROXY=1 turns on Node's own proxy support, which the Node 22 and
    # 24 release lines have. Node 20 ignores it and never reads proxy variables.
    environ = dict(os.environ, NODE_USE_ENV_PROXY="1")
    return _run_child(["node", "-e", _NODE_FETCH, case["target"]], environ)


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    result = {"id": case["id"]}
    started = time.monotonic()
    try:
        result.update(globals()["via_" + case["client"]](case))
    except Exception as exc:
        result.update(via="error", error="%s: %s" % (type(exc).__name__, exc))
    result["target"] = case.get("target")
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def run_cases(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the cases, those that start a child process first and two at a time.

    The children go before any gRPC case: a fork after grpcio has started its
    threads made the child fail in grpc's fork handler (grpcio 1.80, Python 3.9).
    """
    children = [case for case in cases if case["client"] in CHILD_PROCESS_CLIENTS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run_case, children))
    results += [run_case(case) for case in cases if case not in children]
    return results


def bound_by_name(reference: str) -> str:
    """Return "wrapper" or "stock" for a module global such as "botocore.utils.proxy_bypass"."""
    module_name, _, name = reference.rpartition(".")
    value = getattr(sys.modules[module_name], name)
    return "wrapper" if getattr(value, "__loopback_shim__", False) else "stock"


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def main(argv: list[str]) -> None:
    spec = json.loads(argv[0])
    results = []
    late_imports = spec.get("activate_after_import")
    if late_imports:
        # Under python -S no .pth file ran: load the libraries before the shim.
        # Under -S sys.prefix is the base interpreter's, so the caller names the venv's.
        sys.path.append(spec["site_packages"])
        for name in late_imports:
            importlib.import_module(name)
        results += run_cases([case for case in spec["cases"] if case.get("before_activation")])
        import loopback_shim

        loopback_shim.activate()
    results += run_cases([case for case in spec["cases"] if not case.get("before_activation")])
    checks = {reference: bound_by_name(reference) for reference in spec.get("bound", [])}
    versions = {name: installed_version(name) for name in spec.get("versions", [])}
    print(json.dumps({"results": results, "bound": checks, "versions": versions}))


if __name__ == "__main__":
    main(sys.argv[1:])
