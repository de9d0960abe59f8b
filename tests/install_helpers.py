"""Report how loopback-shim started in this interpreter, and where requests went.

The install tests run this script in fresh interpreters of every kind: venvs made by
pip, uv and pipx-style tools, ``uv run``, the Debian system Python and CPython 3.6 to 3.8.
So it uses only the standard library, runs on Python 3.6 and newer, and never imports
requests or the shim unless asked to.

    python install_helpers.py [--add-site-dir DIR] [--activate METHOD] [--client NAME]
                              URL [URL ...]

The last line of output is a JSON object. It gives the interpreter's version and
flags, the start-up state (taken before this script imports anything that the shim
patches), the state after the requested activation, one result per client and URL,
and the patches in place at the end.
"""

import argparse
import json
import os
import sys

TIMEOUT = 10
# (label, module, attribute) of the references the core patches replace.
PATCHED_REFERENCES = (
    ("urllib.request.proxy_bypass", "urllib.request", "proxy_bypass"),
    ("requests.utils.select_proxy", "requests.utils", "select_proxy"),
)


def startup_state():
    """Return what site left behind: shim modules, finders, sitecustomize, NO_PROXY."""
    sitecustomize = sys.modules.get("sitecustomize")
    return {
        "boot_loaded": "_loopback_shim_boot" in sys.modules,
        "shim_modules": sorted(name for name in sys.modules if "loopback_shim" in name),
        "marker_finders": sum(
            1 for finder in sys.meta_path if getattr(finder, "loopback_shim_marker", False)
        ),
        "sitecustomize": getattr(sitecustomize, "__file__", None),
        "no_proxy": os.environ.get("no_proxy"),
        "NO_PROXY": os.environ.get("NO_PROXY"),
        # Set by the marker modules that the tests put on PYTHONPATH.
        "markers": list(getattr(sys, "loopback_shim_test_markers", [])),
    }


def interpreter_state():
    return {
        "version": list(sys.version_info[:3]),
        "executable": sys.executable,
        "isolated": sys.flags.isolated,
        "ignore_environment": sys.flags.ignore_environment,
        "no_site": sys.flags.no_site,
        "no_user_site": sys.flags.no_user_site,
    }


def activate(method):
    """Activate the shim by hand, as a program does where site did not run it."""
    if method == "api":
        import loopback_shim

        loopback_shim.activate()
    elif method.startswith("start-file:"):
        run_start_file(method[len("start-file:"):])
    else:
        raise SystemExit("invalid --activate value %r: use 'api' or 'start-file:PATH'" % method)


def run_start_file(path):
    """Call each entry point of a PEP 829 ``.start`` file, as CPython 3.15's site does.

    site reads the file as utf-8-sig and skips blank and ``#`` lines. It resolves
    each ``pkg.mod:callable`` entry with pkgutil.resolve_name and calls the result
    with no arguments. The PEP allows only that colon form, so an entry without a
    colon is rejected here, and resolve_name's ``strict`` flag (added to pkgutil by
    the PEP 829 change) is passed where the running Python has it.
    """
    import inspect
    import pkgutil

    strict = "strict" in inspect.signature(pkgutil.resolve_name).parameters
    with open(path, encoding="utf-8-sig") as start_file:
        for line in start_file:
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            if ":" not in entry:
                raise SystemExit("invalid .start entry %r: expected pkg.mod:callable" % entry)
            if strict:
                entry_point = pkgutil.resolve_name(entry, strict=True)
            else:
                entry_point = pkgutil.resolve_name(entry)
            entry_point()


def fetch_urlopen(url):
    import urllib.request

    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        return json.loads(response.read().decode())


def fetch_requests(url):
    import requests

    return requests.get(url, timeout=TIMEOUT).json()


FETCHERS = {"urlopen": fetch_urlopen, "requests": fetch_requests}


def fetch(client, url):
    try:
        answer = FETCHERS[client](url)
    except Exception as exc:
        return {"client": client, "url": url, "via": "error",
                "error": "%s: %s" % (type(exc).__name__, exc)}
    return {"client": client, "url": url, "via": answer.get("via"),
            "request_line": answer.get("request_line")}


def wrapper_depth(function):
    """Count the shim wrappers stacked on ``function``: 1 when patched once."""
    depth = 0
    while getattr(function, "__loopback_shim__", False):
        depth += 1
        function = function.__wrapped__
    return depth


def patch_state():
    depths = {}
    for label, module_name, attribute in PATCHED_REFERENCES:
        module = sys.modules.get(module_name)
        if module is not None:
            depths[label] = wrapper_depth(getattr(module, attribute, None))
    patching = sys.modules.get("loopback_shim._patching")
    applied = None
    if patching is not None:
        applied = sorted(
            "%s.%s" % (getattr(patch.owner, "__name__", repr(patch.owner)), patch.name)
            for patch in patching.applied_patches()
        )
    return {"wrapper_depths": depths, "applied": applied}


def main(argv):
    startup = startup_state()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--add-site-dir", action="append", default=[],
                        help="append DIR to sys.path, as a frozen application does")
    parser.add_argument("--activate", metavar="METHOD",
                        help="'api' (loopback_shim.activate) or 'start-file:PATH'")
    parser.add_argument("--client", action="append", choices=sorted(FETCHERS),
                        help="client to send each URL with (default: urlopen)")
    parser.add_argument("urls", nargs="+")
    options = parser.parse_args(argv)

    sys.path.extend(options.add_site_dir)
    if options.activate:
        activate(options.activate)
    activated = startup_state()
    results = [fetch(client, url) for client in options.client or ["urlopen"]
               for url in options.urls]
    print(json.dumps({
        "interpreter": interpreter_state(),
        "startup": startup,
        "activated": activated,
        "results": results,
        "patches": patch_state(),
    }))


if __name__ == "__main__":
    main(sys.argv[1:])
