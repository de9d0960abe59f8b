"""Make requests with real HTTP clients and print what answered, as JSON.

Run inside a test interpreter: ``python clients.py CLIENT URL [CLIENT URL ...]``.
The last line of output is a JSON list with, for each pair, the answer's ``via``
("origin" or "trap-proxy") and the request line the server received, or the
error. Proxies come from the environment unless a client name says otherwise.

A client named ``child:NAME`` runs NAME in a Python child process that inherits
this one's environment; all such pairs share one child. A client named
``decide_*`` makes no request and returns a proxy decision as ``decision``. With
TEST_LOOPBACK_ONLY set, every look-up or connection of a non-loopback host fails
in this process and its Python children, so that a test can send requests for
such hosts and see whether they went through the trap proxy or would have left
the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request

TIMEOUT = 10
TRAP = os.environ.get("TEST_TRAP_PROXY", "")
CHILD_PREFIX = "child:"


def via_urlopen(url):
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        return json.loads(response.read())


def via_requests_get(url):
    import requests

    return requests.get(url, timeout=TIMEOUT).json()


def via_requests_session(url):
    import requests

    with requests.Session() as session:
        return session.get(url, timeout=TIMEOUT).json()


def via_requests_explicit(url):
    import requests

    proxies = {"http": TRAP, "https": TRAP}
    return requests.get(url, proxies=proxies, timeout=TIMEOUT).json()


def via_requests_session_proxies(url):
    import requests

    with requests.Session() as session:
        session.proxies = {"http": TRAP, "https": TRAP}
        return session.get(url, timeout=TIMEOUT).json()


def via_urllib3_proxymanager(url):
    # As selenium does: a ProxyManager built from the environment's proxy.
    import urllib3

    proxy = urllib.request.getproxies().get("http")
    manager = urllib3.ProxyManager(proxy) if proxy else urllib3.PoolManager()
    response = manager.request("GET", url, timeout=TIMEOUT, retries=False)
    return json.loads(response.data)


def via_urllib3_proxymanager_follow(url):
    # The ProxyManager as requests configures it: Proxy-Authorization from the proxy
    # URL's userinfo, and redirects followed.
    import urllib3

    proxy = urllib.request.getproxies().get("http")
    auth = urllib3.util.parse_url(proxy).auth
    headers = urllib3.make_headers(proxy_basic_auth=urllib.parse.unquote(auth)) if auth else None
    manager = urllib3.ProxyManager(proxy, proxy_headers=headers)
    retries = urllib3.Retry(total=None, connect=0, read=0, redirect=3)
    response = manager.request("GET", url, timeout=TIMEOUT, retries=retries)
    return json.loads(response.data)


def via_curl(url):
    output = subprocess.run(
        ["curl", "-sS", "--max-time", str(TIMEOUT), url],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(output)


def via_python_child(url):
    code = (
        "import json, sys, urllib.request\n"
        "print(urllib.request.urlopen(sys.argv[1], timeout=%d).read().decode())" % TIMEOUT
    )
    output = subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output)


def decide_proxy_bypass(url):
    # What urlopen's ProxyHandler passes to proxy_bypass on every hop: the host with
    # port and brackets.
    return bool(urllib.request.proxy_bypass(urllib.parse.urlsplit(url).netloc))


def decide_proxy_bypass_hostname(url):
    # What requests and aiohttp pass: the bare host name.
    return bool(urllib.request.proxy_bypass(urllib.parse.urlsplit(url).hostname))


def decide_requests_environ_proxies(url):
    # Without the "no" entry that getproxies() adds: the shim extends NO_PROXY itself.
    import requests

    proxies = requests.utils.get_environ_proxies(url)
    return {key: value for key, value in proxies.items() if key != "no"}


def decide_requests_route(url):
    # The proxy HTTPAdapter.send picks for requests.get(url): the session's settings
    # merged with the environment, then select_proxy as bound in requests.adapters.
    import requests

    with requests.Session() as session:
        settings = session.merge_environment_settings(url, {}, None, None, None)
    return requests.adapters.select_proxy(url, settings["proxies"])


def decide_requests_explicit(url):
    import requests

    return requests.adapters.select_proxy(url, {"http": TRAP, "https": TRAP})


def decide_urllib3_proxymanager(url):
    # The three per-request choices of a ProxyManager. Making a pool connects nowhere.
    import urllib3

    manager = urllib3.ProxyManager(TRAP)
    parsed = urllib3.util.parse_url(url)
    pool = manager.connection_from_host(parsed.host, parsed.port, parsed.scheme)
    return {
        "pool_proxy": str(pool.proxy) if pool.proxy else None,
        "absolute_form": manager._proxy_requires_url_absolute_form(parsed),
        "proxy_headers": sorted(manager._set_proxy_headers(url, {})),
    }


def is_loopback_address(address):
    import ipaddress

    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def guard_loopback_only():
    """Make every look-up or connection of a non-loopback host fail in this process."""
    import socket

    original_getaddrinfo = socket.getaddrinfo
    original_connect = socket.socket.connect

    def is_allowed_host(host):
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        if host is None or host.lower() == "localhost":
            return True
        try:
            # AI_NUMERICHOST parses address literals only and makes no DNS query.
            infos = original_getaddrinfo(host, None, 0, 0, 0, socket.AI_NUMERICHOST)
        except (OSError, UnicodeError):
            return False
        return all(is_loopback_address(info[4][0]) for info in infos)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not is_allowed_host(host):
            raise socket.gaierror(socket.EAI_NONAME, "test guard blocked look-up of %r" % host)
        return original_getaddrinfo(host, *args, **kwargs)

    def guarded_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            if not is_loopback_address(address[0]):
                raise ConnectionRefusedError("test guard blocked connection to %r" % (address,))
        return original_connect(self, address)

    socket.getaddrinfo = guarded_getaddrinfo
    socket.socket.connect = guarded_connect


def httpx_options(explicit=False):
    """Return the keyword arguments of every httpx client here.

    One SSLContext serves them all. Otherwise httpx builds one for each client and
    transport, and each loads the CA bundle (0.08 s of CPU each, measured with
    httpx 0.29.0 on the 2-core test machine).
    """
    global _ssl_context
    import ssl

    if _ssl_context is None:
        _ssl_context = ssl.create_default_context()
    options = {"verify": _ssl_context, "timeout": TIMEOUT, "follow_redirects": True}
    if explicit:
        options.update(httpx_proxy_argument())
    return options


_ssl_context = None


def httpx_proxy_argument():
    # httpx 0.26 added proxy=; httpx 0.23 to 0.27 take proxies= (removed in 0.28).
    import inspect

    import httpx

    name = "proxy" if "proxy" in inspect.signature(httpx.Client).parameters else "proxies"
    return {name: TRAP}


def via_httpx_get(url):
    import httpx

    return httpx.get(url, **httpx_options()).json()


def via_httpx_get_explicit(url):
    import httpx

    return httpx.get(url, **httpx_options(explicit=True)).json()


def via_httpx_client(url):
    import httpx

    with httpx.Client(**httpx_options()) as client:
        return client.get(url).json()


def via_httpx_client_explicit(url):
    import httpx

    with httpx.Client(**httpx_options(explicit=True)) as client:
        return client.get(url).json()


def via_httpx_client_proxy_transport(url):
    # The client's own transport is a proxy: no route of this client is direct.
    import httpx

    options = httpx_options()
    transport = httpx.HTTPTransport(proxy=httpx.Proxy(TRAP), verify=options["verify"])
    with httpx.Client(transport=transport, **options) as client:
        return client.get(url).json()


def via_httpx_mounted_mock(url):
    # A transport the user mounted for this URL's origin, next to a proxy for all://.
    import httpx

    def answer(request):
        line = "%s %s" % (request.method, request.url.raw_path.decode())
        return httpx.Response(200, json={"via": "mock", "request_line": line})

    parts = urllib.parse.urlsplit(url)
    mounts = {"%s://%s" % (parts.scheme, parts.netloc): httpx.MockTransport(answer)}
    with httpx.Client(mounts=mounts, **httpx_options(explicit=True)) as client:
        return client.get(url).json()


def via_httpx_async(url, explicit=False):
    import asyncio

    import httpx

    async def get():
        async with httpx.AsyncClient(**httpx_options(explicit)) as client:
            return (await client.get(url)).json()

    return asyncio.run(get())


def via_httpx_async_explicit(url):
    return via_httpx_async(url, explicit=True)


def via_aiohttp_session(url, explicit=False):
    # trust_env=True: aiohttp reads proxy variables only when asked to.
    import asyncio

    import aiohttp

    async def get():
        options = {"proxy": TRAP} if explicit else {}
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.ClientSession(trust_env=not explicit, timeout=timeout) as session:
            async with session.get(url, **options) as response:
                return await response.json(content_type=None)

    return asyncio.run(get())


def via_aiohttp_explicit(url):
    return via_aiohttp_session(url, explicit=True)


def via_aiohttp_request(url):
    import asyncio

    import aiohttp

    async def get():
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.request("GET", url, proxy=TRAP, timeout=timeout) as response:
            return await response.json(content_type=None)

    return asyncio.run(get())


def via_websockets(url):
    # python-websockets 15+ reads proxies through urllib.request by default.
    from websockets.sync.client import connect

    with connect(url, open_timeout=TIMEOUT) as websocket:
        return json.loads(websocket.recv(timeout=TIMEOUT))


def via_aiohttp_ws_connect(url, explicit=False):
    import asyncio

    import aiohttp

    async def receive():
        options = {"proxy": TRAP} if explicit else {}
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.ClientSession(trust_env=not explicit, timeout=timeout) as session:
            async with session.ws_connect(url, **options) as websocket:
                return json.loads(await websocket.receive_str())

    return asyncio.run(receive())


def via_aiohttp_ws_connect_explicit(url):
    return via_aiohttp_ws_connect(url, explicit=True)


def run(client, url):
    try:
        if client.startswith("decide_"):
            return {"client": client, "url": url, "via": "decision",
                    "decision": globals()[client](url)}
        answer = globals()["via_" + client](url)
        return {"client": client, "url": url, "via": answer.get("via"),
                "origin": answer.get("origin"),
                "request_line": answer.get("request_line"),
                "proxy_authorization": answer.get("proxy_authorization")}
    except Exception as exc:
        return {"client": client, "url": url, "via": "error",
                "error": "%s: %s" % (type(exc).__name__, exc)}


def run_in_child(pairs):
    """Run ``pairs`` in one Python child that inherits this process's environment."""
    args = [sys.executable, os.path.abspath(__file__)]
    for client, url in pairs:
        args += [client, url]
    completed = subprocess.run(args, capture_output=True, text=True)
    try:
        return json.loads(completed.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        error = "child failed with exit status %d: %s" % (
            completed.returncode, completed.stderr.strip()[-2000:])
        return [{"client": client, "url": url, "via": "error", "error": error}
                for client, url in pairs]


def main(argv):
    if os.environ.get("TEST_LOOPBACK_ONLY"):
        guard_loopback_only()
    pairs = list(zip(argv[0::2], argv[1::2]))
    child_pairs = [(client[len(CHILD_PREFIX):], url) for client, url in pairs
                   if client.startswith(CHILD_PREFIX)]
    child_results = iter(run_in_child(child_pairs) if child_pairs else [])
    results = []
    for client, url in pairs:
        if client.startswith(CHILD_PREFIX):
            result = next(child_results)
            result["client"] = client
        else:
            result = run(client, url)
        results.append(result)
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
