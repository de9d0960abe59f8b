"""The ``loopback-shim`` command line (also ``python -m loopback_shim``).

Exit status: 0 on success, 1 when a command finds a loopback request or decision
that goes to a proxy (or a command cannot run), 2 for invalid usage. ``run``
exits with the status of the command it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__, _environ, _patching

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_USAGE = 2
# Exit statuses of POSIX shells for a command not found and one that cannot be executed.
EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126

SHELLS = ("sh", "fish", "powershell")


def inject_dir() -> Path:
    """Return the directory whose sitecustomize.py activates the shim from PYTHONPATH."""
    return Path(__file__).resolve().parent / "_inject"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loopback-shim",
        description="Make loopback traffic (localhost, 127.0.0.0/8, ::1) skip HTTP proxies"
        " in every Python process, and check that it does.",
        epilog="Exit status: 0 success, 1 a loopback request or decision goes to a proxy,"
        " 2 invalid usage. LOOPBACK_SHIM_DEBUG=1 has the effect of -v.",
    )
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    parser.add_argument(
        "-v", "--verbose", action="store_true",
        help="write the shim's debug log to stderr (also set by LOOPBACK_SHIM_DEBUG=1)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    doctor = commands.add_parser(
        "doctor",
        help="send real loopback requests with each installed client and report the route",
        description="Start a loopback origin and a trap proxy in this process, run each"
        " installed client (urllib.request, requests, urllib3 ProxyManager, httpx, aiohttp)"
        " in a fresh interpreter of this environment with every proxy variable pointing at"
        " the trap, and report which requests went direct. Also shows how the shim"
        " activates here and the NO_PROXY values before and after normalisation."
        " Exit status 1 if any loopback request went to the proxy or failed.",
    )
    doctor.add_argument("--json", action="store_true",
                        help="print the report as one JSON object instead of text")

    check = commands.add_parser(
        "check",
        help="show each library's proxy decision for URLs, stock and with the shim",
        description="For each URL, compute the decision of each installed library"
        " (urllib.request, requests, httpx, aiohttp with trust_env=True) without sending"
        " anything, once stock and once with the shim, with the reason. Exit status 1 if a"
        " library would send a loopback URL to a proxy in this environment.",
    )
    check.add_argument("urls", nargs="+", metavar="URL", help="http:// or https:// URL to decide")
    check.add_argument(
        "--proxy", metavar="URL",
        help="decide as if http_proxy, https_proxy, HTTP_PROXY and HTTPS_PROXY were URL"
        " and no other proxy variable were set (default: this environment's variables)",
    )
    check.add_argument(
        "--no-proxy", metavar="VALUE",
        help="decide as if no_proxy and NO_PROXY were VALUE; an empty VALUE unsets both"
        " (default: this environment's values)",
    )
    check.add_argument("--json", action="store_true",
                       help="print the decisions as one JSON object instead of a table")

    env = commands.add_parser(
        "env",
        help="print shell lines that set the normalised NO_PROXY and no_proxy",
        description="Print the commands that give a shell the NO_PROXY and no_proxy values"
        " the shim gives Python processes, for non-Python tools (curl, wget, Go, Node):"
        ' eval "$(loopback-shim env)". Prints nothing when no proxy variable is set,'
        " because a NO_PROXY alone turns off the system proxy on macOS and Windows.",
    )
    env.add_argument("--shell", choices=SHELLS, default="sh",
                     help="syntax of the lines: sh (POSIX sh, bash, zsh), fish or powershell"
                     " (default: sh)")

    commands.add_parser(
        "inject-path",
        help="print the directory to put on PYTHONPATH to activate the shim",
        description="Print the directory whose sitecustomize.py activates the shim for any"
        " interpreter that has it on PYTHONPATH, including interpreters of other"
        " environments (Python 3.9 and newer).",
    )

    run = commands.add_parser(
        "run",
        help="run a command with the shim on PYTHONPATH and NO_PROXY normalised",
        description="Run CMD with the inject directory prepended to PYTHONPATH and NO_PROXY"
        " normalised, so that every Python process it starts sends loopback traffic"
        " direct. Exits with CMD's exit status; 127 if CMD is not found.",
        usage="loopback-shim run [-h] -- CMD [ARG ...]",
    )
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD [ARG ...]",
                     help="command to run and its arguments, after --")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose or _patching.debug_enabled():
        _patching.enable_stderr_logging()
        args.verbose = True
    try:
        if args.command == "doctor":
            return command_doctor(args)
        if args.command == "check":
            return command_check(parser, args)
        if args.command == "env":
            return command_env(args.shell)
        if args.command == "inject-path":
            return command_inject_path()
        return command_run(parser, args.cmd)
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except ModuleNotFoundError as exc:
        if exc.name != "_loopback_shim_boot":
            raise
        # The wheel installs the boot module beside the package, at the root of
        # site-packages; without it nothing activates at start-up either.
        location = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        sys.stderr.write(
            "loopback-shim: error: _loopback_shim_boot.py is missing from %s, so the"
            " installation is incomplete and the shim is not active. Reinstall it:"
            " pip install --force-reinstall loopback-shim\n" % location
        )
        return EXIT_FINDING


def command_doctor(args: argparse.Namespace) -> int:
    from . import _doctor

    report = _doctor.run_doctor(args.verbose)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(_doctor.format_report(report))
    return EXIT_FINDING if report["proxied"] or report["errors"] else EXIT_OK


def command_check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from . import _check

    for url in args.urls:
        problem = _check.validate_url(url)
        if problem:
            parser.exit(EXIT_USAGE, "loopback-shim check: error: %s\n" % problem)
    if args.proxy is not None and _check.validate_url(args.proxy):
        parser.exit(EXIT_USAGE, "loopback-shim check: error: --proxy: %s\n"
                    % _check.validate_url(args.proxy))
    try:
        report = _check.run_check(args.urls, args.proxy, args.no_proxy, args.verbose)
    except _check.CheckError as exc:
        sys.stderr.write("loopback-shim check: error: %s\n" % exc)
        return EXIT_FINDING
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(_check.format_report(report))
    return EXIT_FINDING if report["findings"] else EXIT_OK


def quote_for_shell(value: str, shell: str) -> str:
    """Quote ``value`` as one literal word of ``shell``."""
    if shell == "fish":
        # Inside fish single quotes only \\ and \' are escapes.
        return "'%s'" % value.replace("\\", "\\\\").replace("'", "\\'")
    if shell == "powershell":
        # Inside PowerShell single quotes a quote is doubled; nothing else expands.
        return "'%s'" % value.replace("'", "''")
    return "'%s'" % value.replace("'", "'\\''")


def assignment_line(name: str, value: str, shell: str) -> str:
    quoted = quote_for_shell(value, shell)
    if shell == "fish":
        return "set -gx %s %s" % (name, quoted)
    if shell == "powershell":
        return "$env:%s = %s" % (name, quoted)
    return "export %s=%s" % (name, quoted)


def command_env(shell: str) -> int:
    environ = dict(os.environ)
    disable_value = environ.get("LOOPBACK_SHIM_DISABLE")
    if _environ.is_truthy(disable_value):
        sys.stderr.write("loopback-shim env: LOOPBACK_SHIM_DISABLE=%s is set, so NO_PROXY is"
                         " left alone, as the shim does at start-up.\n" % disable_value)
        return EXIT_OK
    if not _environ.has_proxy_variable(environ):
        sys.stderr.write(
            "loopback-shim env: no proxy variable (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY...) is"
            " set, so NO_PROXY is left alone, as the shim does at start-up: on macOS and"
            " Windows a NO_PROXY alone would turn off the system proxy.\n"
        )
        return EXIT_OK
    normalised = _environ.normalised(environ)
    for name in _environ.NO_PROXY_NAMES:
        print(assignment_line(name, normalised[name], shell))
    return EXIT_OK


def command_inject_path() -> int:
    directory = inject_dir()
    if not (directory / "sitecustomize.py").is_file():
        sys.stderr.write("loopback-shim inject-path: error: %s has no sitecustomize.py;"
                         " reinstall loopback-shim\n" % directory)
        return EXIT_FINDING
    print(directory)
    return EXIT_OK


def run_environ(environ: dict[str, str]) -> dict[str, str]:
    """Return ``environ`` with the inject directory first on PYTHONPATH and NO_PROXY extended.

    Under LOOPBACK_SHIM_DISABLE NO_PROXY stays as it is, as the boot module leaves it.
    """
    directory = str(inject_dir())
    entries = [entry for entry in environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    entries = [directory] + [entry for entry in entries if entry != directory]
    if _environ.is_truthy(environ.get("LOOPBACK_SHIM_DISABLE")):
        result = dict(environ)
    else:
        result = _environ.normalised(environ)
    result["PYTHONPATH"] = os.pathsep.join(entries)
    return result


def command_run(parser: argparse.ArgumentParser, command: list[str]) -> int:
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        parser.exit(EXIT_USAGE, "loopback-shim run: error: missing command; usage:"
                    " loopback-shim run -- CMD [ARG ...]\n")
    environ = run_environ(dict(os.environ))
    executable = shutil.which(command[0], path=environ.get("PATH"))
    if executable is None:
        sys.stderr.write("loopback-shim run: error: command not found: %s\n" % command[0])
        return EXIT_NOT_FOUND
    _patching.debug("run: %s with PYTHONPATH=%s", command[0], environ["PYTHONPATH"])
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        try:
            # The command replaces this process: its exit status and the signals
            # sent to this process are its own.
            os.execve(executable, command, environ)
        except OSError as exc:
            sys.stderr.write("loopback-shim run: error: cannot execute %s: %s\n"
                             % (command[0], exc.strerror))
            return EXIT_NOT_EXECUTABLE
    return _run_forwarding_signals([executable, *command[1:]], environ)


def _run_forwarding_signals(command: list[str], environ: dict[str, str]) -> int:
    # NOTE: used where exec is not available (Windows); not exercised by the tests,
    # which run on Linux.
    process = subprocess.Popen(command, env=environ)

    def forward(signum: int, frame: Any) -> None:
        process.send_signal(signum)

    previous = {signum: signal.signal(signum, forward)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        return process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
