"""The loopback-shim command line, run as its console script in real venvs.

Every command runs in a subprocess of the shim venv (the package installed from its
wheel) or, for ``run``, in front of interpreters of the stock venv. The stock
decisions that ``check`` must report are computed in the same run by the stock
libraries of the stock venv, and the servers are real: loopback origins and a
trap proxy that records what reaches it.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from environments import REPO, Interpreter, clean_environ, proxy_environ

SUBCOMMANDS = ["doctor", "check", "env", "inject-path", "run"]
CLIENTS = ["urllib.request", "requests", "urllib3", "httpx", "aiohttp"]
LIBRARIES = ["urllib.request", "requests", "httpx", "aiohttp"]
FAKE_PROXY = "http://user:secret@proxy.example.test:3128"

# URLs for check: nothing is sent, so the names never need to resolve.
CHECK_URLS = [
    "http://127.0.0.1:8080/",
    "http://127.0.0.2/",
    "http://localhost:3000/",
    "http://[::1]:8080/",
    "http://app.localhost/",
    "https://127.0.0.1/",
    "http://a.corp.example/",
    "http://example.test/",
]
LOOPBACK_URLS = CHECK_URLS[:6]

# Computes each stock library's route for the URLs in argv from the environment,
# through entry points other than the ones the check command calls.
STOCK_ORACLE = r"""
import json, sys, urllib.request
from urllib.parse import urlsplit

import aiohttp.helpers, httpx, requests.utils, yarl

routes = {}
for url in sys.argv[1:]:
    row = routes[url] = {}
    proxy = urllib.request.getproxies().get(urlsplit(url).scheme)
    bypass = urllib.request.proxy_bypass(urllib.request.Request(url).host)
    row["urllib.request"] = "proxied" if proxy and not bypass else "direct"
    proxies = requests.utils.get_environ_proxies(url)
    row["requests"] = "proxied" if requests.utils.select_proxy(url, proxies) else "direct"
    try:
        with httpx.Client(verify=False) as client:
            transport = client._transport_for_url(httpx.URL(url))
            row["httpx"] = "direct" if transport is client._transport else "proxied"
    except Exception:
        row["httpx"] = "error"
    try:
        aiohttp.helpers.get_env_proxy_for_url(yarl.URL(url))
        row["aiohttp"] = "proxied"
    except LookupError:
        row["aiohttp"] = "direct"
print(json.dumps(routes))
"""


def console_script(env: Interpreter) -> str:
    return str(env.python.parent / "loopback-shim")


def run_cli(
    shim_env: Interpreter,
    args: list[str],
    env: dict[str, str] | None = None,
    tmp_cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    # The working directory is not the checkout, so that nothing imports the
    # package from there instead of from the venv.
    return subprocess.run(
        [console_script(shim_env), *args],
        env=clean_environ() if env is None else env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(tmp_cwd or Path(shim_env.python).parent),
    )


def start_cli(shim_env: Interpreter, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [console_script(shim_env), *args], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=str(Path(shim_env.python).parent),
    )


def output_of(completed: subprocess.CompletedProcess[str]) -> str:
    return completed.stdout + completed.stderr


@pytest.fixture(scope="module")
def trap_url(trap) -> str:
    return trap.url.rstrip("/")


@pytest.fixture(scope="module")
def secret_proxy(trap) -> str:
    return "http://user:secret@127.0.0.1:%d" % trap.port


# --- help and usage -----------------------------------------------------------------


@pytest.mark.parametrize("subcommand", [None, *SUBCOMMANDS])
def test_help_exits_zero(shim_env, subcommand):
    args = ([subcommand] if subcommand else []) + ["--help"]
    completed = run_cli(shim_env, args)
    assert completed.returncode == 0, output_of(completed)
    assert completed.stdout.startswith("usage: loopback-shim"), completed.stdout


def test_help_describes_options(shim_env):
    check_help = run_cli(shim_env, ["check", "--help"]).stdout
    assert "--no-proxy VALUE" in check_help
    assert "unsets both" in check_help
    env_help = run_cli(shim_env, ["env", "--help"]).stdout
    assert "{sh,fish,powershell}" in env_help
    assert "(default: sh)" in env_help


@pytest.mark.parametrize(
    "args",
    [[], ["nonsense"], ["check"], ["check", "ftp://127.0.0.1/"], ["check", "http:///path"],
     ["env", "--shell", "csh"], ["run"], ["run", "--"], ["doctor", "--jsn"]],
    ids=lambda args: " ".join(args) or "no-command",
)
def test_bad_usage_exits_two(shim_env, args):
    completed = run_cli(shim_env, args)
    assert completed.returncode == 2, output_of(completed)
    assert "usage:" in completed.stderr or "error:" in completed.stderr, completed.stderr
    assert completed.stdout == ""


def test_module_entry_point_matches_script(shim_env):
    script = run_cli(shim_env, ["inject-path"])
    module = subprocess.run(
        [str(shim_env.python), "-m", "loopback_shim", "inject-path"],
        env=clean_environ(), capture_output=True, text=True, timeout=60,
        cwd=str(shim_env.python.parent),
    )
    assert module.returncode == 0, module.stderr
    assert module.stdout == script.stdout


# --- inject-path --------------------------------------------------------------------


def test_inject_path_prints_installed_directory(shim_env):
    completed = run_cli(shim_env, ["inject-path"])
    assert completed.returncode == 0, completed.stderr
    directory = Path(completed.stdout.strip())
    assert directory == shim_env.site_packages / "loopback_shim" / "_inject"
    assert (directory / "sitecustomize.py").is_file()


# --- doctor -------------------------------------------------------------------------


def test_doctor_all_direct_in_shim_env(shim_env):
    # No proxy variable in the caller's environment: the doctor sets its own.
    completed = run_cli(shim_env, ["doctor", "--json"])
    assert completed.returncode == 0, output_of(completed)
    report = json.loads(completed.stdout)
    assert sorted({row["client"] for row in report["requests"]}) == sorted(CLIENTS)
    for row in report["requests"]:
        assert row["route"] == "direct", row
        assert row["shim"] == ".pth", row
    hosts = {row["url"].split("//")[1].rsplit(":", 1)[0] for row in report["requests"]}
    assert {"127.0.0.1", "localhost"} <= hosts
    assert report["proxied"] == 0
    assert report["errors"] == 0
    assert report["activation"]["this_process"]["mode"] == ".pth"
    (site_row,) = report["activation"]["site_packages"]
    assert site_row["pth"], site_row
    assert site_row["start"], site_row
    assert site_row["loadable"], site_row
    assert report["proxy_variables"] == {}
    assert report["no_proxy"]["proxy_variable_set"] is False
    assert report["children_no_proxy"]["NO_PROXY"].endswith("127.0.0.0/8")


def test_doctor_disabled_finds_proxied(shim_env, secret_proxy):
    # Text output, debug logging and a proxy variable with credentials in the
    # caller's environment, which the doctor shows redacted and replaces.
    env = clean_environ(LOOPBACK_SHIM_DISABLE="1", HTTP_PROXY=secret_proxy)
    completed = run_cli(shim_env, ["-v", "doctor"], env=env)
    assert completed.returncode == 1, output_of(completed)
    assert "secret" not in output_of(completed)
    text = completed.stdout
    assert "LOOPBACK_SHIM_DISABLE=1: the shim is disabled" in text
    assert "HTTP_PROXY=http://***@127.0.0.1:%s" % secret_proxy.rsplit(":", 1)[1] in text
    rows = [line.split() for line in text.splitlines() if line.startswith("  ")]
    routes = {row[0]: [] for row in rows if row[0] in CLIENTS}
    for row in rows:
        if row[0] in CLIENTS:
            routes[row[0]].append((row[2], row[3]))
    assert sorted(routes) == sorted(CLIENTS)
    for client, client_routes in routes.items():
        assert len(client_routes) >= 2, client
        assert set(client_routes) == {("proxied", "disabled")}, (client, client_routes)
    count = sum(len(client_routes) for client_routes in routes.values())
    assert "FAIL: %d loopback request(s) went to the proxy." % count in text


# --- check --------------------------------------------------------------------------


CHECK_CASES = {
    "no-no-proxy": None,
    "glob-and-localhost": "127.*,localhost",
    "corp-and-cidr": ".corp.example,127.0.0.0/8",
    "bracketed-ipv6": "[::1],.example.test",
}


@pytest.fixture(scope="module")
def check_table(shim_env, stock_env):
    """Run check and the stock oracle for every case at once; return their outputs."""
    processes = {}
    for case, no_proxy in CHECK_CASES.items():
        env = proxy_environ(FAKE_PROXY, no_proxy=no_proxy)
        processes[case] = (
            start_cli(shim_env, ["check", "--json", *CHECK_URLS], env),
            subprocess.Popen(
                [str(stock_env.python), "-c", STOCK_ORACLE, *CHECK_URLS], env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            ),
        )
    results = {}
    for case, (check, oracle) in processes.items():
        check_out, check_err = check.communicate(timeout=120)
        oracle_out, oracle_err = oracle.communicate(timeout=120)
        assert oracle.returncode == 0, oracle_err
        results[case] = (check.returncode, check_out, check_err, json.loads(oracle_out))
    return results


@pytest.mark.parametrize("case", list(CHECK_CASES))
def test_check_matches_stock_libraries(check_table, case):
    returncode, stdout, stderr, oracle = check_table[case]
    assert returncode == 0, stdout + stderr
    assert "secret" not in stdout + stderr
    report = json.loads(stdout)
    assert report["applies"] == "shim"
    rows = {(row["url"], row["library"]): row for row in report["decisions"]}
    assert len(rows) == len(CHECK_URLS) * len(LIBRARIES)

    for url in CHECK_URLS:
        for library in LIBRARIES:
            row = rows[(url, library)]
            expected_stock = oracle[url][library]
            assert row["stock"]["route"] == expected_stock, (url, library, row)
            if url in LOOPBACK_URLS:
                assert row["shim"]["route"] == "direct", (url, library, row)
                assert row["shim"]["reason"].startswith("loopback: "), row
            elif expected_stock != "error":
                # The shim leaves every other host to the stock decision.
                assert row["shim"]["route"] == expected_stock, (url, library, row)


def test_check_table_has_stock_failures(check_table):
    # The table can only show the shim's effect if stock libraries proxy loopback.
    _, stdout, _, _ = check_table["glob-and-localhost"]
    rows = json.loads(stdout)["decisions"]
    for row in rows:
        if row["url"] == "http://127.0.0.1:8080/":
            assert row["stock"]["route"] == "proxied", row
            assert row["stock"]["reason"] == "proxy from http_proxy", row


def test_check_reasons(shim_env):
    env = clean_environ(HTTPS_PROXY=FAKE_PROXY, NO_PROXY="localhost,.corp.example")
    urls = ["https://127.0.0.1/", "http://127.0.0.1/", "https://a.corp.example/",
            "https://localhost/", "https://[::1]/"]
    completed = run_cli(shim_env, ["check", "--json", *urls], env=env)
    assert completed.returncode == 0, output_of(completed)
    rows = {(row["url"], row["library"]): row for row in json.loads(completed.stdout)["decisions"]}
    for library in LIBRARIES:
        stock = rows[("https://127.0.0.1/", library)]["stock"]
        assert stock["reason"] == "proxy from HTTPS_PROXY", (library, stock)
        # aiohttp moves the credentials out of the proxy URL into a BasicAuth.
        userinfo = "" if library == "aiohttp" else "***@"
        expected_proxy = "http://%sproxy.example.test:3128" % userinfo
        assert stock["proxy"] == expected_proxy, (library, stock)
        stock = rows[("https://a.corp.example/", library)]["stock"]
        assert stock["reason"] == 'NO_PROXY entry ".corp.example"', (library, stock)
        stock = rows[("https://localhost/", library)]["stock"]
        assert stock["reason"] == 'NO_PROXY entry "localhost"', (library, stock)
        shim = rows[("https://127.0.0.1/", library)]["shim"]
        assert shim["route"] == "direct", (library, shim)
        assert shim["reason"] == "loopback: 127.0.0.0/8", (library, shim)
        shim = rows[("https://[::1]/", library)]["shim"]
        assert shim["reason"] == "loopback: ::1", (library, shim)
        plain = rows[("http://127.0.0.1/", library)]["stock"]
        assert plain == {"route": "direct", "proxy": None, "reason": "no proxy variable"}


def test_check_disabled_exits_one(shim_env):
    env = proxy_environ(FAKE_PROXY, LOOPBACK_SHIM_DISABLE="1")
    completed = run_cli(shim_env, ["check", "http://127.0.0.1:8080/"], env=env)
    assert completed.returncode == 1, output_of(completed)
    assert "FAIL: 4 decision(s) send a loopback URL to a proxy." in completed.stdout
    assert "STOCK column" in completed.stdout


# --- env ----------------------------------------------------------------------------


def _shell_read_back(shell: list[str], lines: str, reader: str) -> list[str]:
    completed = subprocess.run(
        [*shell, lines + "\n" + reader], env=clean_environ(), capture_output=True, text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.splitlines()


SHELLS = {
    "sh": (["sh", "-c"], "sh", 'printf "%s\\n%s\\n" "$no_proxy" "$NO_PROXY"'),
    "bash": (["bash", "-c"], "sh", 'printf "%s\\n%s\\n" "$no_proxy" "$NO_PROXY"'),
    "fish": (["fish", "-c"], "fish", 'printf "%s\\n%s\\n" "$no_proxy" "$NO_PROXY"'),
    "pwsh": (["pwsh", "-NoProfile", "-Command"], "powershell",
             "Write-Output $env:no_proxy; Write-Output $env:NO_PROXY"),
}


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_env_lines_evaluate_in_shell(shim_env, shell_name):
    shell, syntax, reader = SHELLS[shell_name]
    if shutil.which(shell[0]) is None:
        pytest.skip("%s is not installed" % shell[0])
    # Quotes, $, backquotes, backslashes and spaces must all come back literally.
    user_value = "it's,$HOME,`id`,a\\b,two words"
    env = proxy_environ(FAKE_PROXY, no_proxy=user_value)
    completed = run_cli(shim_env, ["env", "--shell", syntax], env=env)
    assert completed.returncode == 0, completed.stderr
    assert "secret" not in output_of(completed)

    # What the shim gives a Python process of the venv is what the shell gets.
    code = "import json, os; print(json.dumps([os.environ['no_proxy'], os.environ['NO_PROXY']]))"
    python_sees = shim_env.run_json(["-c", code], env=env)
    assert python_sees[0].startswith(user_value)
    assert python_sees[0].endswith(",127.0.0.0/8")
    assert _shell_read_back(shell, completed.stdout, reader) == python_sees


def test_env_keeps_each_spelling(shim_env):
    env = clean_environ(HTTP_PROXY=FAKE_PROXY, NO_PROXY="upper.example", no_proxy="lower.example")
    completed = run_cli(shim_env, ["env"], env=env)
    lines = completed.stdout.splitlines()
    assert lines == [
        "export no_proxy='lower.example,localhost,.localhost,127.0.0.1,::1,127.0.0.0/8'",
        "export NO_PROXY='upper.example,localhost,.localhost,127.0.0.1,::1,127.0.0.0/8'",
    ]


def test_env_without_proxy_prints_nothing(shim_env):
    completed = run_cli(shim_env, ["env"], env=clean_environ(NO_PROXY="corp.example"))
    assert completed.returncode == 0
    assert completed.stdout == ""
    assert "no proxy variable" in completed.stderr


def test_env_disabled_prints_nothing(shim_env):
    env = proxy_environ(FAKE_PROXY, LOOPBACK_SHIM_DISABLE="1")
    completed = run_cli(shim_env, ["env"], env=env)
    assert completed.returncode == 0
    assert completed.stdout == ""
    assert "LOOPBACK_SHIM_DISABLE=1 is set" in completed.stderr


# --- run ----------------------------------------------------------------------------


def test_run_python_child_goes_direct(shim_env, stock_env, origins, trap_url):
    env = proxy_environ(trap_url, no_proxy="127.*,localhost")
    args = ["clients.py", "requests_get", origins[0].url, "urlopen", origins[1].url]

    stock = stock_env.run_json(args, env=env)
    assert [result["via"] for result in stock] == ["trap-proxy", "trap-proxy"]

    completed = subprocess.run(
        [console_script(shim_env), "run", "--", str(stock_env.python), *args],
        env=env, capture_output=True, text=True, timeout=120, cwd=str(REPO / "tests"),
    )
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    assert [result["via"] for result in results] == ["origin", "origin"], results


def test_run_non_python_child(shim_env, origins, trap_url):
    env = proxy_environ(trap_url)
    echo = run_cli(shim_env, ["run", "--", "sh", "-c", 'echo "$NO_PROXY"; echo "$PYTHONPATH"'],
                   env=env)
    assert echo.returncode == 0, echo.stderr
    no_proxy, pythonpath = echo.stdout.splitlines()
    assert no_proxy == "localhost,.localhost,127.0.0.1,::1,127.0.0.0/8"
    inject = run_cli(shim_env, ["inject-path"]).stdout.strip()
    assert pythonpath == inject

    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    curl = ["curl", "-sS", "--max-time", "10", origins[0].url]
    stock = subprocess.run(curl, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(stock.stdout)["via"] == "trap-proxy"
    shimmed = run_cli(shim_env, ["run", "--", *curl], env=env)
    assert shimmed.returncode == 0, shimmed.stderr
    assert json.loads(shimmed.stdout)["via"] == "origin"


@pytest.mark.parametrize("status", [0, 1, 7, 255])
def test_run_forwards_exit_status(shim_env, status):
    completed = run_cli(shim_env, ["run", "--", "sh", "-c", "exit %d" % status])
    assert completed.returncode == status


def test_run_missing_command_exits_127(shim_env):
    completed = run_cli(shim_env, ["run", "--", "no-such-command-for-loopback-shim"])
    assert completed.returncode == 127
    assert "command not found: no-such-command-for-loopback-shim" in completed.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_run_forwards_signals(shim_env):
    script = 'trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done'
    process = subprocess.Popen(
        [console_script(shim_env), "run", "--", "sh", "-c", script],
        env=clean_environ(), stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 42
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_run_killed_by_signal(shim_env):
    completed = run_cli(shim_env, ["run", "--", "sh", "-c", "kill -TERM $$"])
    assert completed.returncode == -signal.SIGTERM


@pytest.mark.parametrize(
    ("flag", "variables"),
    [("-v", {}), (None, {"LOOPBACK_SHIM_DEBUG": "1"})],
    ids=["flag", "variable"],
)
def test_debug_logging_on_stderr(shim_env, flag, variables):
    args = ([flag] if flag else []) + ["run", "--", "sh", "-c", "true"]
    completed = run_cli(shim_env, args, env=clean_environ(**variables))
    assert completed.returncode == 0, completed.stderr
    assert "loopback-shim: run: sh with PYTHONPATH=" in completed.stderr


def test_no_debug_logging_by_default(shim_env):
    completed = run_cli(shim_env, ["run", "--", "sh", "-c", "true"])
    assert completed.stderr == ""


# --- secrets ------------------------------------------------------------------------


def test_no_subcommand_prints_secret(shim_env, secret_proxy, tmp_path):
    env = clean_environ(
        HTTP_PROXY=secret_proxy, https_proxy=secret_proxy, ALL_PROXY=secret_proxy,
        NO_PROXY="corp.example",
    )
    commands = [
        ["-v", "check", "--proxy", secret_proxy, "http://127.0.0.1:8080/", "http://example.test/"],
        ["env"],
        ["env", "--shell", "fish"],
        ["inject-path"],
        ["-v", "run", "--", "sh", "-c", "echo ran"],
    ]
    outputs = {}
    for args in commands:
        completed = run_cli(shim_env, args, env=env, tmp_cwd=tmp_path)
        assert completed.returncode == 0, (args, output_of(completed))
        assert "secret" not in output_of(completed), (args, output_of(completed))
        assert completed.stdout, args
        outputs[" ".join(args[:2])] = completed.stdout
    assert "HTTP_PROXY=http://***@127.0.0.1:" in outputs["-v check"]


@pytest.mark.parametrize("args", [["env"], ["run", "--", "true"], ["doctor"]])
def test_missing_boot_module_says_reinstall(tmp_path, stock_env, trap_url, args):
    # A site directory holding the package but not _loopback_shim_boot.py, as a
    # half-removed installation leaves it; -S keeps any installed copy away.
    shutil.copytree(REPO / "loopback_shim", tmp_path / "loopback_shim")
    env = proxy_environ(trap_url, PYTHONPATH=str(tmp_path))
    completed = stock_env.run(["-S", "-m", "loopback_shim", *args], env=env, check=False)
    assert completed.returncode == 1, output_of(completed)
    assert "Traceback" not in completed.stderr
    assert "_loopback_shim_boot.py is missing from %s" % tmp_path in completed.stderr
    assert "pip install --force-reinstall loopback-shim" in completed.stderr
