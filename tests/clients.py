"""Make requests with real HTTP clients and print what answered, as JSON.

Run inside a test interpreter: ``python clients.py CLIENT URL [CLIENT URL ...]``.
The last line of output is a JSON list with, for each pair, the answer's ``via``
("origin" or "trap-proxy") and the request line the server received, or the
error. Proxies come from the environment unless a client name says otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

TIMEOUT = 10
TRAP = os.environ.get("TEST_TRAP_PROXY", "")


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


def run(client, url):
    try:
        answer = globals()["via_" + client](url)
        return {"client": client, "url": url, "via": answer.get("via"),
                "request_line": answer.get("request_line"),
                "proxy_authorization": answer.get("proxy_authorization")}
    except Exception as exc:
        return {"client": client, "url": url, "via": "error",
                "error": "%s: %s" % (type(exc).__name__, exc)}


def main(argv):
    pairs = list(zip(argv[0::2], argv[1::2]))
    print(json.dumps([run(client, url) for client, url in pairs]))


if __name__ == "__main__":
    main(sys.argv[1:])
