"""Real tools send loopback traffic direct when the shim is installed.

One venv contains the shim wheel, pip, boto3, selenium, websocket-client and grpcio.
tools/tool_clients.py drives each tool in that venv against a loopback server,
with every proxy variable pointing at a trap proxy, in three runs:

- "shim": the shim activates from its .pth file, as for a user. Every case must
  reach its server and leave nothing at the trap.
- "stock": the same venv with LOOPBACK_SHIM_DISABLE=1. Every case must reach the
  trap, so no case passes without the shim doing the work. Using the same venv
  rather than a second one without the shim keeps every package version the same,
  so the shim is the only difference, and saves a second install of the tools.
- "late": ``python -S``, which runs no .pth file, imports boto3 first and calls
  ``loopback_shim.activate()`` afterwards, so botocore has bound the stock
  ``proxy_bypass`` by name before urllib.request is patched.

Each run has its own trap, and a case's trap lines are found by the host, port
and path it used, so the runs can go in parallel.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from environments import Interpreter, clean_environ, make_venv, proxy_environ, run_pip
from servers import RunningServer, ipv6_available, start_trap_proxy
from tools.stub_servers import (
    StubServer,
    start_s3_stub,
    start_simple_index,
    start_websocket_echo,
    write_simple_index,
)

TOOL_PACKAGES = ["pip", "boto3", "selenium", "websocket-client", "grpcio"]
# Distributions whose installed versions the shim run reports.
TOOL_DISTRIBUTIONS = [*TOOL_PACKAGES, "botocore", "urllib3"]
HOSTS = ["127.0.0.1", "localhost", "127.0.0.2", "::1"]
# GNU wget 1.21 matches no_proxy entries as plain suffixes, with no CIDR, so the
# normalised NO_PROXY covers 127.0.0.1, localhost and ::1 but no other 127.x address.
WGET_HOSTS = ["127.0.0.1", "localhost", "::1"]
# Node's own proxy support (NODE_USE_ENV_PROXY) has no CIDR either.
NODE_HOSTS = ["127.0.0.1", "localhost"]
PIP_PROXY_SOURCES = ["environment", "option", "pip_proxy"]
# Clients that tunnel through a proxy with CONNECT. The others send absolute-form lines.
CONNECT_CLIENTS = frozenset(("websocket_echo", "grpc_unary"))

# Credentials and settings that keep botocore off AWS: no instance metadata, no
# config or credentials file from the home directory, a fixed region.
AWS_ENVIRON = {
    "AWS_ACCESS_KEY_ID": "AKIDLOOPBACKSHIMTEST",
    "AWS_SECRET_ACCESS_KEY": "loopback-shim-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}

WARM_UP_IMPORTS = (
    "import boto3, botocore.httpsession, grpc, websocket, "
    "selenium.webdriver.remote.remote_connection, "
    "pip._internal.commands.download, pip._internal.network.session"
)


def tool_environ(proxy_url: str | None, **overrides: str) -> dict[str, str]:
    """Return a clean environment with fake AWS settings and, if given, a proxy."""
    environ = proxy_environ(proxy_url) if proxy_url else clean_environ()
    # Drop the machine's own AWS settings (a profile or an endpoint URL, say).
    for name in list(environ):
        if name.startswith("AWS_"):
            del environ[name]
    environ.update(AWS_ENVIRON)
    environ.update(overrides)
    return environ


@pytest.fixture(scope="session")
def tools_env(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Interpreter:
    """One venv with the shim and every tool, shared by all the tool tests."""
    interpreter = make_venv(tmp_path_factory.mktemp("venv") / "tools", [])
    # --no-compile: pip would byte-compile every module of botocore and selenium,
    # most of which the runs never import.
    run_pip(
        "--python", str(interpreter.python), "install", "--no-compile", str(wheel),
        *TOOL_PACKAGES,
    )
    # Write the bytecode of the modules the runs import once, here, rather than in
    # every one of the parallel runs that follow.
    interpreter.run(["-c", WARM_UP_IMPORTS], env=tool_environ(None))
    return interpreter


def probe_project(proxy_source: str) -> str:
    # One project per pip case, so the index and trap request lines tell them apart.
    return "probe-" + proxy_source.replace("_", "-")


def _bracketed(host: str) -> str:
    return "[%s]" % host if ":" in host else host


def _netloc(server: RunningServer | StubServer, host: str) -> str:
    # "localhost" reaches the 127.0.0.1 server but keeps its name in the URL.
    return "%s:%d" % (_bracketed(host), server.port)


class ToolServers:
    """The loopback servers the cases talk to, by host."""

    def __init__(self, origins: list[RunningServer], index_root: Path) -> None:
        hosts = ["127.0.0.1", "127.0.0.2"] + (["::1"] if ipv6_available() else [])
        self.origins = {server.host: server for server in origins}
        self.s3 = {host: start_s3_stub(host) for host in ("127.0.0.1", "127.0.0.2")}
        self.websocket = {host: start_websocket_echo(host) for host in hosts}
        write_simple_index(index_root, [probe_project(source) for source in PIP_PROXY_SOURCES])
        self.index = start_simple_index("127.0.0.1", index_root)

    def servers(self) -> list[StubServer]:
        return [*self.s3.values(), *self.websocket.values(), self.index]


def _server_for(servers: dict[str, Any], host: str) -> Any:
    return servers["127.0.0.1" if host == "localhost" else host]


def build_cases(servers: ToolServers, trap_url: str) -> list[dict[str, Any]]:
    """Return every case of the shim and stock runs; ids are "<tool> <host or source>"."""
    cases: list[dict[str, Any]] = []
    hosts = [host for host in HOSTS if host != "::1" or ipv6_available()]
    for source in PIP_PROXY_SOURCES:
        project = probe_project(source)
        cases.append({
            "id": "pip " + source, "client": "pip_download",
            "target": "http://%s/simple" % _netloc(servers.index, "127.0.0.1"),
            "project": project, "proxy_source": source, "proxy": trap_url,
            "marker_path": "/simple/%s/" % project,
        })
    for host in ("localhost", "127.0.0.2"):
        server = _server_for(servers.s3, host)
        cases.append({
            "id": "boto3 " + host, "client": "boto3_list_buckets",
            "target": "http://%s/boto3" % _netloc(server, host),
        })
    # botocore's Config(proxies=...) replaces the environment's proxies.
    cases.append({
        "id": "boto3 config proxies", "client": "boto3_list_buckets",
        "target": "http://%s/config-proxies" % _netloc(servers.s3["127.0.0.2"], "127.0.0.2"),
        "proxies": {"http": trap_url, "https": trap_url},
    })
    # A manual proxy in selenium's ClientConfig replaces the environment's proxies.
    cases.append({
        "id": "selenium manual proxy", "client": "selenium_new_session",
        "target": "http://%s/manual-proxy" % _netloc(servers.origins["127.0.0.1"], "127.0.0.1"),
        "manual_proxy": trap_url,
    })
    for host in hosts:
        origin = _server_for(servers.origins, host)
        websocket = _server_for(servers.websocket, host)
        cases += [
            {"id": "selenium " + host, "client": "selenium_new_session",
             "target": "http://%s/selenium" % _netloc(origin, host)},
            {"id": "websocket-client " + host, "client": "websocket_echo",
             "target": "ws://%s/echo" % _netloc(websocket, host)},
            {"id": "grpcio " + host, "client": "grpc_unary", "target": host},
            {"id": "curl " + host, "client": "curl",
             "target": "http://%s/curl" % _netloc(origin, host)},
        ]
        if host in WGET_HOSTS:
            cases.append({"id": "wget " + host, "client": "wget",
                          "target": "http://%s/wget" % _netloc(origin, host)})
        if host in NODE_HOSTS:
            cases.append({"id": "node " + host, "client": "node_fetch",
                          "target": "http://%s/node" % _netloc(origin, host)})
    return cases


def _normalise_trap_line(line: str) -> str:
    """Turn "CONNECT [::1]:80 HTTP/1.1" or "GET http://[::1]:80/p HTTP/1.1" into "::1:80/p"."""
    target = line.split(" ")[1]
    target = re.sub(r"^[a-z]+://", "", target)
    return target.replace("[", "").replace("]", "")


def trap_lines_for(
    case: dict[str, Any], result: dict[str, Any], trap_lines: list[str]
) -> list[str]:
    """Return the trap's request lines that belong to ``case``."""
    target = re.sub(r"^[a-z]+://", "", result.get("target") or case["target"])
    host_port = target.split("/")[0].replace("[", "").replace("]", "")
    if case["client"] in CONNECT_CLIENTS:
        return [line for line in trap_lines
                if line.startswith("CONNECT ") and _normalise_trap_line(line) == host_port]
    path = case.get("marker_path") or "/" + target.partition("/")[2]
    return [line for line in trap_lines
            if not line.startswith("CONNECT ")
            and _normalise_trap_line(line).startswith(host_port + path)]


def _run(interpreter: Interpreter, args: list[str], spec: dict[str, Any],
         environ: dict[str, str]) -> dict[str, Any]:
    return interpreter.run_json(
        [*args, "tools/tool_clients.py", json.dumps(spec)], env=environ, timeout=600
    )


@pytest.fixture(scope="module")
def tool_runs(
    tools_env: Interpreter, origins: list[RunningServer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Run every case with and without the shim, and the late activation run."""
    servers = ToolServers(origins, tmp_path_factory.mktemp("index"))
    traps = {mode: start_trap_proxy() for mode in ("shim", "stock", "late")}
    try:
        environ = {mode: tool_environ(trap.url.rstrip("/")) for mode, trap in traps.items()}
        environ["stock"]["LOOPBACK_SHIM_DISABLE"] = "1"

        cases = {mode: build_cases(servers, traps[mode].url) for mode in ("shim", "stock")}
        s3_late = servers.s3["127.0.0.2"]
        late_cases = [
            {"id": "boto3 before activation", "client": "boto3_list_buckets",
             "target": "http://%s/before" % _netloc(s3_late, "127.0.0.2"),
             "before_activation": True},
            {"id": "boto3 after activation", "client": "boto3_list_buckets",
             "target": "http://%s/after" % _netloc(s3_late, "127.0.0.2")},
        ]
        runs = {
            "shim": ([], {
                "cases": cases["shim"],
                "bound": ["botocore.utils.proxy_bypass"],
                "versions": TOOL_DISTRIBUTIONS,
            }),
            "stock": ([], {"cases": cases["stock"]}),
            "late": (["-S"], {
                "cases": late_cases,
                "activate_after_import": ["boto3", "botocore.utils"],
                "bound": ["botocore.utils.proxy_bypass"],
                "site_packages": str(tools_env.site_packages),
            }),
        }
        with ThreadPoolExecutor(max_workers=len(runs)) as pool:
            futures = {
                mode: pool.submit(_run, tools_env, args, spec, environ[mode])
                for mode, (args, spec) in runs.items()
            }
            outputs = {mode: future.result() for mode, future in futures.items()}

        all_cases = {"shim": cases["shim"], "stock": cases["stock"], "late": late_cases}
        by_mode: dict[str, Any] = {"bound": {}, "servers": servers}
        for mode, output in outputs.items():
            case_by_id = {case["id"]: case for case in all_cases[mode]}
            trap_lines = traps[mode].requests
            by_mode[mode] = {}
            for result in output["results"]:
                case = case_by_id[result["id"]]
                result["trap_lines"] = trap_lines_for(case, result, trap_lines)
                by_mode[mode][result["id"]] = result
            by_mode["bound"][mode] = output["bound"]
        by_mode["versions"] = outputs["shim"]["versions"]
        yield by_mode
    finally:
        for trap in traps.values():
            trap.stop()
        for server in servers.servers():
            server.stop()


def _skip_without_ipv6(host: str) -> None:
    if host == "::1" and not ipv6_available():
        pytest.skip("no IPv6 loopback on this machine")


def assert_direct_with_shim_only(runs: dict[str, Any], case_id: str) -> dict[str, Any]:
    """Check that ``case_id`` reached its server with the shim and the trap without."""
    shim = runs["shim"][case_id]
    stock = runs["stock"][case_id]
    assert shim["via"] == "origin", shim
    assert shim["trap_lines"] == [], shim
    assert stock["via"] != "origin", stock
    assert stock["trap_lines"], stock
    return shim


@pytest.mark.parametrize("source", PIP_PROXY_SOURCES)
def test_pip_download_loopback_index(tool_runs, source):
    shim = assert_direct_with_shim_only(tool_runs, "pip " + source)
    project = probe_project(source)
    assert shim["downloaded"] == ["%s-1.0-py3-none-any.whl" % project.replace("-", "_")]
    index_requests = tool_runs["servers"].index.requests
    assert "GET /simple/%s/ HTTP/1.1" % project in index_requests


@pytest.mark.parametrize("host", ["localhost", "127.0.0.2"])
def test_boto3_list_buckets(tool_runs, host):
    shim = assert_direct_with_shim_only(tool_runs, "boto3 " + host)
    assert shim["request_line"] == "GET /boto3 HTTP/1.1"


def test_boto3_binds_wrapper_by_name(tool_runs):
    assert tool_runs["bound"]["shim"] == {"botocore.utils.proxy_bypass": "wrapper"}


def test_boto3_config_proxies(tool_runs):
    # NOTE: botocore 1.44 builds the request target itself (absolute form whenever
    # a proxy is configured for an http URL), so the direct request still carries
    # "GET http://host:port/path", which servers must accept (RFC 9112 section 3.2.2).
    shim = assert_direct_with_shim_only(tool_runs, "boto3 config proxies")
    assert shim["request_line"].endswith("/config-proxies HTTP/1.1")


def test_boto3_activated_after_import(tool_runs):
    before = tool_runs["late"]["boto3 before activation"]
    after = tool_runs["late"]["boto3 after activation"]
    assert before["via"] != "origin", before
    assert before["trap_lines"], before
    assert tool_runs["bound"]["late"] == {"botocore.utils.proxy_bypass": "wrapper"}
    assert after["via"] == "origin", after
    assert after["trap_lines"] == [], after
    assert after["request_line"] == "GET /after HTTP/1.1"


@pytest.mark.parametrize("host", HOSTS)
def test_selenium_remote_connection(tool_runs, host):
    _skip_without_ipv6(host)
    shim = assert_direct_with_shim_only(tool_runs, "selenium " + host)
    assert shim["request_line"] == "POST /selenium/session HTTP/1.1"


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:2])


def test_selenium_manual_proxy(tool_runs):
    shim = assert_direct_with_shim_only(tool_runs, "selenium manual proxy")
    assert shim["request_line"] == "POST /manual-proxy/session HTTP/1.1"


@pytest.mark.parametrize("host", HOSTS)
def test_websocket_client_echo(tool_runs, host):
    _skip_without_ipv6(host)
    case_id = "websocket-client " + host
    server = _server_for(tool_runs["servers"].websocket, host)
    version = tool_runs["versions"]["websocket-client"]
    if host in ("127.0.0.1", "localhost") and _version_tuple(version) < (1, 9):
        # websocket-client 1.8.0 falls back to a no_proxy list of "localhost" and
        # "127.0.0.1" when NO_PROXY is unset (_url.py DEFAULT_NO_PROXY_HOST), so
        # these two go direct without the shim too. 1.9.2 has no such default.
        shim = tool_runs["shim"][case_id]
        assert shim["via"] == "origin", shim
        assert shim["trap_lines"] == [], shim
        pytest.skip("websocket-client %s sends %s direct by itself" % (version, host))
    assert_direct_with_shim_only(tool_runs, case_id)
    assert "GET /echo HTTP/1.1" in server.requests


@pytest.mark.parametrize("host", HOSTS)
def test_grpcio_unary_call(tool_runs, host):
    _skip_without_ipv6(host)
    assert_direct_with_shim_only(tool_runs, "grpcio " + host)


@pytest.mark.parametrize("host", HOSTS)
def test_curl_child_inherits_no_proxy(tool_runs, host):
    _skip_without_ipv6(host)
    shim = assert_direct_with_shim_only(tool_runs, "curl " + host)
    assert shim["request_line"] == "GET /curl HTTP/1.1"


@pytest.mark.parametrize("host", WGET_HOSTS)
def test_wget_child_inherits_no_proxy(tool_runs, host):
    _skip_without_ipv6(host)
    shim = assert_direct_with_shim_only(tool_runs, "wget " + host)
    assert shim["request_line"] == "GET /wget HTTP/1.1"


@pytest.mark.parametrize("host", NODE_HOSTS)
def test_node_child_inherits_no_proxy(tool_runs, host):
    stock = tool_runs["stock"]["node " + host]
    if stock["via"] == "origin" and not stock["trap_lines"]:
        # Node 20 has no NODE_USE_ENV_PROXY (it came in the 22 and 24 release lines)
        # and never reads proxy variables, so it goes direct with or without the shim.
        pytest.skip("this node ignores proxy variables, even with NODE_USE_ENV_PROXY=1")
    shim = assert_direct_with_shim_only(tool_runs, "node " + host)
    assert shim["request_line"] == "GET /node HTTP/1.1"
