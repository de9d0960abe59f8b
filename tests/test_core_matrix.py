"""Every core client sends loopback direct, whatever NO_PROXY contains, in every install mode.

One clients.py process per (mode, NO_PROXY value) makes all the requests of that
cell: urlopen, requests.get, a requests.Session, a ProxyManager built from the
environment, a curl child and a Python grandchild, to every loopback origin and to
other spellings of loopback addresses. The same process computes the proxy decisions
for non-loopback hosts and sends real requests for them with TEST_LOOPBACK_ONLY
set, so that a request the stock library would send direct fails inside the
process instead of leaving the machine. The stock venv without the shim gives the
expected answers for every non-loopback host, in the same session.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from environments import REPO, Interpreter, proxy_environ
from servers import RunningServer

# The NO_PROXY values users write: unset, glob and CIDR forms no client or only some
# clients understand, IPv6 with and without brackets, a leading dot, an unrelated
# domain, and upper case.
NO_PROXY_VALUES = [
    None,
    "127.*,localhost",
    "127.0.0.0/8,localhost",
    "localhost,127.0.0.1,::1",
    "localhost, 127.0.0.1, [::1]",
    ".localhost,127.0.0.1",
    "*.example.test",
    "LOCALHOST",
]
# Entries that make the stock libraries send some non-loopback hosts direct, so that
# the comparison with stock covers the direct branch too (only non-loopback pairs).
NON_LOOPBACK_ONLY_NO_PROXY = "example.test,10.0.0.0/8,169.254.169.254"
NO_PROXY_IDS = [value if value is not None else "unset" for value in NO_PROXY_VALUES]

# Shim modes: pip-installed, and the stock venv with the checkout or the installed
# _inject directory of the shim venv on PYTHONPATH.
SHIM_MODES = ["installed", "checkout", "injected"]
# LOOPBACK_SHIM_DISABLE=1 is compared with stock on a few values, to keep the run short.
DISABLED_NO_PROXY_VALUES = [None, "127.0.0.0/8,localhost", "localhost, 127.0.0.1, [::1]"]

LOOPBACK_CLIENTS = [
    "urlopen",
    "requests_get",
    "requests_session",
    "urllib3_proxymanager",
    "curl",
    "child:urlopen",
]
EXPLICIT_PROXY_CLIENTS = ["requests_explicit", "requests_session_proxies"]
DECISION_CLIENTS = [
    "decide_proxy_bypass",
    "decide_proxy_bypass_hostname",
    "decide_requests_environ_proxies",
    "decide_requests_route",
    "decide_requests_explicit",
    "decide_urllib3_proxymanager",
]
NON_LOOPBACK_REQUEST_CLIENTS = [
    "urlopen",
    "requests_get",
    "requests_session",
    "urllib3_proxymanager",
    "requests_explicit",
]
# Hosts that are not loopback, several of them built to look like it.
NON_LOOPBACK_HOSTS = [
    "api.example.test",
    "10.0.0.1",
    "10.0.0.1:8080",
    "169.254.169.254",
    "127.0.0.1.example.test",
    "localhost.example.test",
    "[::ffff:10.0.0.1]",
]
# The entries the shim appends to NO_PROXY match these non-loopback names as
# suffixes in the stock matchers. CPython's proxy_bypass and requests 2.34 send
# "a.127.0.0.1" direct once NO_PROXY lists 127.0.0.1. requests 2.33 and older (the
# release Python 3.9 gets, and pip's vendored copy before pip 26) match without a
# dot, so also "xlocalhost", "x127.0.0.1", the IPv4-compatible, not loopback,
# "::127.0.0.1" and any IPv6 address ending in "::1". The shim must decide them
# against NO_PROXY as the user set it, exactly as stock does.
ADDED_ENTRY_SUFFIX_HOSTS = [
    "a.127.0.0.1",
    "xlocalhost",
    "x127.0.0.1",
    "[::127.0.0.1]",
    "[2001:db8::1]",
]

_OBJECT_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def loopback_urls(origins: list[RunningServer]) -> list[tuple[str, str]]:
    """Return (url, origin name) for every origin and other spellings of its address."""
    by_host = {origin.host: origin for origin in origins}
    urls = [(origin.url, origin.server.name) for origin in origins]
    first = by_host["127.0.0.1"]
    second = by_host["127.0.0.2"]
    for host in ("localhost", "127.1", "2130706433", "0x7f000001"):
        urls.append(("http://%s:%d/" % (host, first.port), first.server.name))
    for host in ("127.0.2", "0177.0.0.2"):
        urls.append(("http://%s:%d/" % (host, second.port), second.server.name))
    if "::1" in by_host:
        third = by_host["::1"]
        urls.append(("http://[0:0:0:0:0:0:0:1]:%d/" % third.port, third.server.name))
        # An IPv4-mapped address reaches the IPv4 origin through an IPv6 socket.
        urls.append(("http://[::ffff:127.0.0.1]:%d/" % first.port, first.server.name))
    return urls


def loopback_pairs(origins: list[RunningServer]) -> list[tuple[str, str, str]]:
    """Return (client, url, origin name) for every loopback request of a cell."""
    origin_urls = {origin.url for origin in origins}
    pairs = []
    for url, name in loopback_urls(origins):
        for client in LOOPBACK_CLIENTS + EXPLICIT_PROXY_CLIENTS:
            # curl 7.88 rewrites 127.1, 2130706433 and the other IPv4 spellings to the
            # dotted form before it reads NO_PROXY, so of the other forms only localhost
            # tests more of the environment, and each curl run costs a process.
            # NOTE: curl children send an IPv4-mapped IPv6 literal to the proxy. Only an
            # IPv6 CIDR entry would match it, and the shim never writes one because it
            # makes httpx.Client() raise.
            if client == "curl" and url not in origin_urls and "//localhost:" not in url:
                continue
            pairs.append((client, url, name))
    return pairs


def non_loopback_pairs() -> list[tuple[str, str]]:
    pairs = []
    for host in NON_LOOPBACK_HOSTS + ADDED_ENTRY_SUFFIX_HOSTS:
        url = "http://%s/" % host
        for client in DECISION_CLIENTS + NON_LOOPBACK_REQUEST_CLIENTS:
            pairs.append((client, url))
    return pairs


def comparable(result: dict[str, Any]) -> tuple[Any, ...]:
    """Return what must match between two runs, without object addresses in errors."""
    error = _OBJECT_ADDRESS.sub("", result.get("error") or "")
    return (
        result["client"],
        result["url"],
        result["via"],
        result.get("request_line"),
        repr(result.get("decision")),
        error,
    )


def is_origin_form(request_line: str | None) -> bool:
    return request_line is not None and request_line.split(" ")[1].startswith("/")


@pytest.fixture(scope="module")
def installed_inject_dir(shim_env: Interpreter) -> Path:
    return shim_env.site_packages / "loopback_shim" / "_inject"


@pytest.fixture(scope="module")
def matrix(
    shim_env: Interpreter,
    stock_env: Interpreter,
    installed_inject_dir: Path,
    origins: list[RunningServer],
    trap: RunningServer,
) -> dict[tuple[str, str | None], Any]:
    """Run every (mode, NO_PROXY value) cell once, a few at a time."""
    loopback = [(client, url) for client, url, _name in loopback_pairs(origins)]
    non_loopback = non_loopback_pairs()

    def run_cell(mode: str, no_proxy: str | None) -> list[dict[str, Any]]:
        overrides = {"TEST_TRAP_PROXY": trap.url, "TEST_LOOPBACK_ONLY": "1"}
        interpreter = stock_env
        if mode in ("installed", "disabled"):
            interpreter = shim_env
        if mode == "disabled":
            overrides["LOOPBACK_SHIM_DISABLE"] = "1"
        if mode == "checkout":
            overrides["PYTHONPATH"] = str(REPO)
        if mode == "injected":
            overrides["PYTHONPATH"] = str(installed_inject_dir)
        pairs = non_loopback
        if no_proxy != NON_LOOPBACK_ONLY_NO_PROXY:
            pairs = loopback + non_loopback
        args = ["clients.py"]
        for client, url in pairs:
            args += [client, url]
        env = proxy_environ(trap.url.rstrip("/"), no_proxy=no_proxy, **overrides)
        results: list[dict[str, Any]] = interpreter.run_json(args, env=env)
        return results

    cells = [(mode, value) for mode in SHIM_MODES + ["stock"] for value in NO_PROXY_VALUES]
    cells += [(mode, NON_LOOPBACK_ONLY_NO_PROXY) for mode in SHIM_MODES + ["stock", "disabled"]]
    cells += [("disabled", value) for value in DISABLED_NO_PROXY_VALUES]
    outcomes: dict[tuple[str, str | None], Any] = {}
    # Three at a time: the cells spend much of their time waiting on children.
    with ThreadPoolExecutor(max_workers=3) as executor:
        futures = {cell: executor.submit(run_cell, *cell) for cell in cells}
        for cell, future in futures.items():
            try:
                outcomes[cell] = future.result()
            except Exception as exc:  # reported by the tests that read the cell
                outcomes[cell] = exc
    return outcomes


def cell_results(matrix: dict[tuple[str, str | None], Any], mode: str, no_proxy: str | None):
    outcome = matrix[(mode, no_proxy)]
    if isinstance(outcome, Exception):
        raise outcome
    results: list[dict[str, Any]] = outcome
    return results


@pytest.mark.parametrize("no_proxy", NO_PROXY_VALUES, ids=NO_PROXY_IDS)
@pytest.mark.parametrize("mode", SHIM_MODES)
def test_loopback_goes_direct(matrix, origins, mode, no_proxy):
    results = cell_results(matrix, mode, no_proxy)
    expected = loopback_pairs(origins)
    assert len(results) >= len(expected)
    wrong = []
    for (client, url, name), result in zip(expected, results):
        assert (result["client"], result["url"]) == (client, url)
        reached_origin = result["via"] == "origin" and result.get("origin") == name
        if not reached_origin or not is_origin_form(result.get("request_line")):
            wrong.append(result)
    assert wrong == []


@pytest.mark.parametrize("no_proxy", NO_PROXY_VALUES, ids=NO_PROXY_IDS)
def test_stock_proxies_some_loopback(matrix, origins, no_proxy):
    # The failure the shim fixes: with none of the NO_PROXY values above do stock
    # urllib.request, requests 2.34 and urllib3 2.8 keep every loopback request away
    # from the proxy.
    results = cell_results(matrix, "stock", no_proxy)
    second = next(origin for origin in origins if origin.host == "127.0.0.2")
    proxied = {
        (result["client"], result["url"])
        for result in results
        if result["via"] == "trap-proxy" and result["url"].startswith("http://127.")
    }
    # CPython's proxy_bypass matches names only, so no entry above covers 127.0.0.2.
    assert ("urlopen", second.url) in proxied
    assert ("child:urlopen", second.url) in proxied
    # A ProxyManager and explicit proxies ignore NO_PROXY altogether.
    assert ("urllib3_proxymanager", second.url) in proxied
    assert ("requests_explicit", second.url) in proxied
    assert ("requests_session_proxies", second.url) in proxied


@pytest.mark.parametrize("no_proxy", NO_PROXY_VALUES, ids=NO_PROXY_IDS)
def test_stock_proxies_non_loopback(matrix, no_proxy):
    # Gives the comparison below its teeth: these requests do reach the trap in stock.
    results = cell_results(matrix, "stock", no_proxy)
    proxied = {
        (result["client"], result["url"])
        for result in results
        if result["via"] == "trap-proxy" and result["request_line"].startswith("GET http://")
    }
    for client in NON_LOOPBACK_REQUEST_CLIENTS:
        assert (client, "http://api.example.test/") in proxied
        assert (client, "http://169.254.169.254/") in proxied


def test_stock_sends_no_proxy_entries_direct(matrix):
    # The direct branch of the comparison: the test guard stops these requests, which
    # stock would have sent to the hosts themselves.
    results = cell_results(matrix, "stock", NON_LOOPBACK_ONLY_NO_PROXY)
    by_pair = {(result["client"], result["url"]): result for result in results}
    for client in ("urlopen", "requests_get", "requests_session"):
        result = by_pair[(client, "http://api.example.test/")]
        assert result["via"] == "error"
        assert "test guard blocked" in result["error"]
    assert by_pair[("decide_proxy_bypass", "http://169.254.169.254/")]["decision"] is True
    assert by_pair[("decide_requests_route", "http://10.0.0.1/")]["decision"] is None


@pytest.mark.parametrize(
    "no_proxy",
    [*NO_PROXY_VALUES, NON_LOOPBACK_ONLY_NO_PROXY],
    ids=[*NO_PROXY_IDS, NON_LOOPBACK_ONLY_NO_PROXY],
)
@pytest.mark.parametrize("mode", SHIM_MODES)
def test_non_loopback_decided_as_stock(matrix, mode, no_proxy):
    stock = cell_results(matrix, "stock", no_proxy)
    shim = cell_results(matrix, mode, no_proxy)
    hosts = tuple("http://%s/" % host for host in NON_LOOPBACK_HOSTS)
    expected = [comparable(result) for result in stock if result["url"].startswith(hosts)]
    actual = [comparable(result) for result in shim if result["url"].startswith(hosts)]
    assert len(expected) == len(NON_LOOPBACK_HOSTS) * (
        len(DECISION_CLIENTS) + len(NON_LOOPBACK_REQUEST_CLIENTS)
    )
    assert actual == expected


@pytest.mark.parametrize("host", ADDED_ENTRY_SUFFIX_HOSTS)
def test_suffix_of_added_entry_as_stock(matrix, host):
    url = "http://%s/" % host
    stock = cell_results(matrix, "stock", None)
    shim = cell_results(matrix, "installed", None)
    expected = [comparable(result) for result in stock if result["url"] == url]
    actual = [comparable(result) for result in shim if result["url"] == url]
    assert len(expected) == len(DECISION_CLIENTS) + len(NON_LOOPBACK_REQUEST_CLIENTS)
    assert actual == expected


@pytest.mark.parametrize(
    "no_proxy",
    [*DISABLED_NO_PROXY_VALUES, NON_LOOPBACK_ONLY_NO_PROXY],
    ids=[value or "unset" for value in DISABLED_NO_PROXY_VALUES] + [NON_LOOPBACK_ONLY_NO_PROXY],
)
def test_disabled_matches_stock(matrix, no_proxy):
    stock = cell_results(matrix, "stock", no_proxy)
    disabled = cell_results(matrix, "disabled", no_proxy)
    assert [comparable(result) for result in disabled] == [
        comparable(result) for result in stock
    ]


# Redirects from a proxied host to loopback. The trap itself responds to the first
# hop, for http://redirector.example.test/, and the proxy URL carries credentials.
REDIRECT_CLIENTS = [
    "urlopen",
    "requests_get",
    "requests_session",
    "requests_explicit",
    "requests_session_proxies",
    "urllib3_proxymanager_follow",
    "child:urlopen",
]
# requests understands all three entries, and still keeps the proxy on a redirect.
REDIRECT_NO_PROXY = "127.0.0.0/8,localhost,::1"
PROXY_CREDENTIALS = "Basic dXNlcjpzZWNyZXQ="  # user:secret


def redirect_targets(origins: list[RunningServer]) -> list[tuple[str, str]]:
    """Return (location netloc, origin name) for the redirects' loopback hops."""
    targets = []
    for origin in origins:
        if origin.host == "127.0.0.1":
            targets.append(("localhost:%d" % origin.port, origin.server.name))
        else:
            targets.append((origin.netloc, origin.server.name))
    return targets


@pytest.fixture(scope="module")
def redirect_runs(
    shim_env: Interpreter,
    stock_env: Interpreter,
    installed_inject_dir: Path,
    origins: list[RunningServer],
    trap: RunningServer,
) -> dict[str, list[dict[str, Any]]]:
    proxy = "http://user:secret@%s" % trap.netloc
    args = ["clients.py"]
    for netloc, _name in redirect_targets(origins):
        url = "http://redirector.example.test/redirect/%s/" % netloc
        for client in REDIRECT_CLIENTS:
            args += [client, url]
    overrides = {"TEST_TRAP_PROXY": proxy, "TEST_LOOPBACK_ONLY": "1"}
    runs = {
        "installed": shim_env.run_json(
            args, env=proxy_environ(proxy, REDIRECT_NO_PROXY, **overrides)
        ),
        "injected": stock_env.run_json(
            args,
            env=proxy_environ(
                proxy, REDIRECT_NO_PROXY, PYTHONPATH=str(installed_inject_dir), **overrides
            ),
        ),
        "stock": stock_env.run_json(args, env=proxy_environ(proxy, REDIRECT_NO_PROXY, **overrides)),
    }
    return runs


@pytest.mark.parametrize("mode", ["installed", "injected"])
def test_redirect_to_loopback_goes_direct(redirect_runs, origins, trap, mode):
    expected_names = [name for _netloc, name in redirect_targets(origins) for _ in REDIRECT_CLIENTS]
    results = redirect_runs[mode]
    assert len(results) == len(expected_names)
    for result, name in zip(results, expected_names):
        assert (result["via"], result.get("origin")) == ("origin", name), result
        assert is_origin_form(result["request_line"]), result
        assert result["proxy_authorization"] is None, result
    # The first hops did go through the proxy.
    for netloc, _name in redirect_targets(origins):
        first_hop = "GET http://redirector.example.test/redirect/%s/ HTTP/1.1" % netloc
        assert first_hop in trap.requests


def test_stock_redirect_keeps_proxy(redirect_runs, origins):
    # requests 2.34 and urllib3 2.8 keep the proxy for the loopback hop, although
    # NO_PROXY lists every target in a form requests understands. CPython's urlopen
    # goes direct for "localhost" but keeps the Proxy-Authorization header there.
    results = redirect_runs["stock"]
    by_pair = {(result["client"], result["url"]): result for result in results}
    for netloc, _name in redirect_targets(origins):
        url = "http://redirector.example.test/redirect/%s/" % netloc
        for client in REDIRECT_CLIENTS:
            result = by_pair[(client, url)]
            if client.endswith("urlopen") and netloc.startswith("localhost:"):
                assert result["via"] == "origin", result
                assert result["proxy_authorization"] == PROXY_CREDENTIALS, result
            else:
                assert result["via"] == "trap-proxy", result
                assert result["request_line"].startswith("GET http://"), result
                assert result["proxy_authorization"] == PROXY_CREDENTIALS, result
