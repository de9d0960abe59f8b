from __future__ import annotations

from environments import proxy_environ


def test_installed_shim_sends_loopback_direct(shim_env, origins, trap):
    args = ["clients.py"]
    for origin in origins:
        for client in ("urlopen", "requests_get", "urllib3_proxymanager", "curl", "python_child"):
            args += [client, origin.url]
    env = proxy_environ(trap.url.rstrip("/"), no_proxy="127.*,localhost")
    results = shim_env.run_json(args, env=env)
    for result in results:
        assert result["via"] == "origin", result
        assert result["request_line"].startswith("GET / "), result


def test_stock_env_sends_loopback_to_proxy(stock_env, origins, trap):
    env = proxy_environ(trap.url.rstrip("/"), no_proxy="127.*,localhost", TEST_TRAP_PROXY=trap.url)
    (result,) = stock_env.run_json(["clients.py", "requests_get", origins[1].url], env=env)
    assert result["via"] == "trap-proxy", result
