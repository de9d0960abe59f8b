"""Section 3: the cost of the decision itself, per call, and its memory bound."""

from __future__ import annotations

import json
import statistics

from harness import format_ratio_ci, load_average, log, markdown_table, process_output
from venvs import BENCHMARKS, Workspace, proxy_environ

REPEATS = 25
QUICK_REPEATS = 5
DISTINCT_HOSTS = 1_000_000
QUICK_DISTINCT_HOSTS = 100_000
TRACED_HOSTS = 100_000
QUICK_TRACED_HOSTS = 20_000
PREDICATE_BUDGET_NS = 1000
# Never connected: the decision only reads the variables.
UNUSED_PROXY = "http://127.0.0.1:9"
LOOPBACK_URL = "http://127.0.0.1:8080/path"
OTHER_URL = "http://example.test/path"


def _ns(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f}"


def decision_table(samples: dict[str, list[float]]) -> str:
    rows = []
    # (function, case key, argument as shown)
    cases = [
        ("urllib.request.proxy_bypass", "127.0.0.1:8080", "`127.0.0.1:8080`"),
        ("urllib.request.proxy_bypass", "localhost", "`localhost`"),
        ("urllib.request.proxy_bypass", "example.test", "`example.test`"),
        ("requests.utils.select_proxy", LOOPBACK_URL, "`%s`, proxies" % LOOPBACK_URL),
        ("requests.utils.select_proxy", OTHER_URL, "`%s`, proxies" % OTHER_URL),
        ("requests.utils.select_proxy", "{} " + LOOPBACK_URL, "`%s`, `{}`" % LOOPBACK_URL),
    ]
    for function, key, argument in cases:
        short = function.rsplit(".", 1)[1]
        stock = samples["%s stock %s" % (short, key)]
        shim = samples["%s shim %s" % (short, key)]
        ratios = [a / b for a, b in zip(shim, stock)]
        change = format_ratio_ci(ratios)
        rows.append(["`%s`" % function, argument, _ns(stock), _ns(shim), change])
    header = ["Function", "Argument", "Stock (ns/call)", "Shim (ns/call)", "Change"]
    return markdown_table(header, rows)


def predicate_table(samples: dict[str, list[float]]) -> str:
    rows = []
    for host in ("127.0.0.1", "localhost", "[::1]:8080", "example.test"):
        values = samples["is_loopback_host " + host]
        within = statistics.median(values) < PREDICATE_BUDGET_NS
        rows.append(["`%s`" % host, "repeated", _ns(values), "yes" if within else "**no**"])
    distinct = (("names", "a new name each call"), ("addresses", "a new address each call"))
    for kind, label in distinct:
        values = samples["is_loopback_host distinct " + kind]
        rows.append([label, "distinct", _ns(values), "-"])
    header = ["Host", "Calls", "ns/call", "Under 1 us (repeated host)"]
    return markdown_table(header, rows)


def memory_paragraph(memory: dict[str, float]) -> str:
    return (
        "Memory: {hosts:,} distinct host names passed through `is_loopback_host` in "
        "{seconds:.1f} s, with a resident set of {rss_before_kib:,} KiB before and "
        "{rss_after_kib:,} KiB after. {traced_hosts:,} further names under tracemalloc: "
        "{traced_before_kib:,.0f} KiB traced before, {traced_after_kib:,.0f} KiB after, "
        "{traced_peak_kib:,.0f} KiB at the peak. The predicate's cache then holds "
        "{cache_size:,} of at most {cache_max:,} entries.".format(**memory)
    )


def run(workspace: Workspace, quick: bool) -> str:
    repeats = QUICK_REPEATS if quick else REPEATS
    distinct = QUICK_DISTINCT_HOSTS if quick else DISTINCT_HOSTS
    traced = QUICK_TRACED_HOSTS if quick else TRACED_HOSTS
    venv = workspace.shim_clients()
    log("decision: %d repeats, load %s" % (repeats, load_average()))
    argv = [venv.python, str(BENCHMARKS / "child_decision.py"), str(repeats)]
    argv += [str(distinct), str(traced)]
    result = json.loads(process_output(argv, proxy_environ(UNUSED_PROXY)).splitlines()[-1])
    samples = result["samples"]
    note = (
        "Python %s, one process in the shim venv with the proxy variables set; %d interleaved "
        "repeats of about 20 ms per case, medians. The stock function is the patched one's "
        "`__wrapped__`, timed in the same process. Change: median of the per-repeat ratios "
        "with its 95%% interval. A distinct-host call includes about 30 ns to take the next "
        "host from a list." % (venv.version, repeats)
    )
    return "\n\n".join([
        decision_table(samples),
        predicate_table(samples),
        memory_paragraph(result["memory"]),
        note,
    ]) + "\n"
