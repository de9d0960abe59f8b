"""Secrets: proxy credentials never appear in the shim's logs, errors or CLI output.

Every proxy variable contains ``http://proxyuser:s3cr3t@127.0.0.1:PORT`` (the trap
proxy). Programs run with LOOPBACK_SHIM_DEBUG=1 so that every debug message is
written, shim failures are injected with the proxy URL in their text, and every
CLI subcommand runs with -v. The password must not appear anywhere in stdout or
stderr, in plain or percent-encoded form.
"""

from __future__ import annotations

import sys

import pytest
from environments import REPO, clean_environ, proxy_environ

PASSWORD = "s3cr3t"
SECRET_FORMS = (PASSWORD, "s3cr3t".replace("3", "%33"))

PROGRAM = r"""
import asyncio, json, os, sys, urllib.request
import aiohttp, httpx, requests, urllib3

origin, remote = sys.argv[1], "http://example.test/secrets"
proxy = os.environ["http_proxy"]
vias = {}
for name, url in (("loopback", origin), ("remote", remote)):
    with urllib.request.urlopen(url, timeout=10) as response:
        vias["urlopen " + name] = json.loads(response.read())["via"]
    vias["requests " + name] = requests.get(url, timeout=10).json()["via"]
    with requests.Session() as session:
        session.proxies = {"http": proxy}
        vias["requests-session " + name] = session.get(url, timeout=10).json()["via"]
    with urllib3.ProxyManager(proxy) as manager:
        response = manager.request("GET", url, timeout=10, retries=False)
        vias["urllib3 " + name] = json.loads(response.data)["via"]
    with httpx.Client(timeout=10) as client:
        vias["httpx " + name] = client.get(url).json()["via"]

    async def fetch(url=url):
        async with aiohttp.ClientSession(trust_env=True) as session:
            async with session.get(url) as response:
                return (await response.json())["via"]

    vias["aiohttp " + name] = asyncio.run(fetch())
print(json.dumps(vias))
"""

# Shim failures whose messages contain the proxy URL, injected before activation.
FAULTS = {
    "patch raises": """
import os, loopback_shim._patch_requests
def broken_patch(group, module):
    raise RuntimeError("cannot patch for proxy " + os.environ["http_proxy"])
loopback_shim._patch_requests.patch_requests = broken_patch
""",
    "patch module import fails": """
import os, sys
class BlockPatchModule:
    def find_spec(self, name, path=None, target=None):
        if name == "loopback_shim._patch_urllib3":
            raise ImportError("blocked with proxy " + os.environ["http_proxy"])
        return None
sys.meta_path.insert(0, BlockPatchModule())
""",
    "loopback check raises": """
import os, loopback_shim._patching
def broken_check(host):
    raise ValueError("check failed behind " + os.environ["http_proxy"])
loopback_shim._patching.is_loopback_host = broken_check
""",
}


def secret_proxy_environ(trap_url: str, **overrides: str) -> dict[str, str]:
    proxy = trap_url.replace("http://", "http://proxyuser:%s@" % PASSWORD).rstrip("/")
    return proxy_environ(proxy, LOOPBACK_SHIM_DEBUG="1", **overrides)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for form in SECRET_FORMS:
            assert form not in text


def test_secret_is_in_environ(trap):
    # The check above looks for the password the programs really receive.
    env = secret_proxy_environ(trap.url)
    assert PASSWORD in env["http_proxy"]
    assert PASSWORD in env["HTTPS_PROXY"]


def test_clients_debug_log_has_no_secret(shim_env, origins, trap):
    env = secret_proxy_environ(trap.url)
    trap.clear()
    completed = shim_env.run(["-c", PROGRAM, origins[0].url], env=env)
    vias = __import__("json").loads(completed.stdout.strip().splitlines()[-1])

    for key, via in vias.items():
        expected = "origin" if key.endswith("loopback") else "trap-proxy"
        assert via == expected, key
    assert "loopback-shim:" in completed.stderr
    assert_no_secret(completed.stdout, completed.stderr)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_failure_messages_have_no_secret(fault, origins, trap):
    import subprocess

    env = secret_proxy_environ(trap.url)
    code = "\n".join(
        [
            "import sys",
            "sys.path.insert(0, %r)" % str(REPO),
            FAULTS[fault],
            "import loopback_shim; loopback_shim.activate()",
            "import urllib.request, requests, urllib3",
            "proxies = {'http': __import__('os').environ['http_proxy']}",
            "print(requests.get(sys.argv[1], proxies=proxies, timeout=10).json()['via'])",
        ]
    )
    completed = subprocess.run(
        [sys.executable, "-c", code, origins[0].url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(REPO / "tests"),
    )
    assert completed.returncode == 0, completed.stderr
    # The failure was reported, with the URL's host but not its password.
    assert "loopback-shim:" in completed.stderr
    assert "127.0.0.1" in completed.stderr
    assert_no_secret(completed.stdout, completed.stderr)


CLI_COMMANDS = [
    ["-v", "doctor", "--json"],
    ["-v", "check", "http://127.0.0.1/", "http://example.test/"],
    ["-v", "check", "--proxy", "http://proxyuser:%s@127.0.0.1:9" % PASSWORD, "http://[::1]/"],
    ["-v", "env"],
    ["-v", "env", "--shell", "powershell"],
    ["-v", "inject-path"],
    ["-v", "run", "--", sys.executable, "-c", "pass"],
    ["-v", "run", "--", "command-that-does-not-exist"],
    ["-v", "check"],
    ["-v", "no-such-command"],
]


@pytest.mark.parametrize("arguments", CLI_COMMANDS, ids=[" ".join(c[1:3]) for c in CLI_COMMANDS])
def test_cli_output_has_no_secret(arguments, shim_env, trap):
    env = secret_proxy_environ(trap.url)
    completed = shim_env.run(["-m", "loopback_shim", *arguments], env=env, check=False)
    # Usage errors exit 2; the others may report a finding with 1.
    assert completed.returncode in (0, 1, 2, 127), completed.stderr
    assert completed.stdout or completed.stderr
    assert_no_secret(completed.stdout, completed.stderr)
    if arguments[1] == "doctor":
        # The doctor shows the proxy variables: redaction, not omission, hides them.
        assert "http://***@127.0.0.1:%d" % trap.port in completed.stdout


def test_clean_environ_has_no_secret():
    # The helper the subprocesses above start from carries no credentials of its own.
    assert_no_secret(repr(clean_environ()))
