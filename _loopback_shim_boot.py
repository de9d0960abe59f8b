"""Start-up hook of loopback-shim, run by every interpreter of an environment.

The .pth and .start files and the injected sitecustomize call activate(). Every
Python process pays for this module, so it holds only the opt-out check, the NO_PROXY
extension and the import hook that has the rest of the shim (loopback_shim._patching)
loaded right after a target module first executes. Unless it fails, it imports nothing
that site has not loaded. Keep it small and parseable by the oldest supported Python.

The module itself is the finder that activate() puts on sys.meta_path: loading
functions costs each process less than building classes, and the loader wrapper's
class is built only when a target is first imported.

The .pth line stays short, because site compiles it at every start-up, twice in a
venv. It skips the import for LOOPBACK_SHIM_DISABLE=1, the documented value, and
leaves every other value to activate(). It has no guard against this module being
missing, which cost more than everything else in it: pip installs and removes the
.pth file and this module together. If this module alone is gone, site prints its
"Error processing line" message and the process goes on with stock proxy decisions.
"""

import sys

# Modules whose import triggers a patch; loopback_shim._patching maps each to its code.
TARGETS = frozenset((
    "urllib.request", "requests", "urllib3", "httpx", "aiohttp",
    "pip._vendor.requests", "pip._vendor.urllib3",
))
# Appended to NO_PROXY: each form some client understands, none that makes one raise.
LOOPBACK_NO_PROXY = ("localhost", ".localhost", "127.0.0.1", "::1", "127.0.0.0/8")
# Set next to the extended NO_PROXY: repr((no_proxy, NO_PROXY)) as the user set them,
# None for an unset one. A Python child inherits only the extended values, and its
# patches read this to decide other hosts as this process does. The name must not
# end in "_proxy": urllib's getproxies() reads every such variable as a proxy.
NO_PROXY_BEFORE = "LOOPBACK_SHIM_NO_PROXY_BEFORE"
_TRUE_VALUES = ("1", "true", "yes", "on")
# Marks the shim's finder on sys.meta_path, whichever copy of this module it is.
loopback_shim_marker = True
# importlib.reload() runs this body again in the module object that may already sit
# on sys.meta_path as the finder, so pending and no_proxy_change keep their values.
# Targets not imported since activation: the only names find_spec looks up.
pending = globals().get("pending", set())
_activated = False
_reported = False
_loader_class = None
# (values before, values after) of the NO_PROXY variables this process extended, or
# None. The patches decide non-loopback hosts against the values before, so that
# an added entry matched as a suffix ("a.127.0.0.1") never sends such a host direct.
no_proxy_change = globals().get("no_proxy_change")

# The functions import os themselves and never bind it here. This module stays on
# sys.meta_path until shutdown, and a finder whose globals reach os keeps that
# module graph alive into the slower late phase of interpreter finalization, which
# every process would pay at exit.


def activate():
    """Patch loopback proxy decisions lazily and extend NO_PROXY, raising no Exception."""
    global _activated, no_proxy_change
    # On CPython 3.8 to 3.14 a venv runs each .pth import line twice, and a .pth
    # and a PYTHONPATH copy of this module may both be present: act once.
    if _activated:
        return
    try:
        import os

        # Checked on every call, so a program that removes the variable can still
        # call loopback_shim.activate() itself.
        if is_truthy(os.environ.get("LOOPBACK_SHIM_DISABLE")):
            return
        _activated = True
        for finder in sys.meta_path:
            if getattr(finder, "loopback_shim_marker", False):
                return
        # This module is the finder, so it must be the one importable by its name.
        finder = sys.modules.get(__name__)
        if getattr(finder, "find_spec", None) is not find_spec:
            raise ImportError("sys.modules[%r] is another module, so this copy cannot"
                              " be the import finder" % __name__)
        change = extend_environ_no_proxy(os.environ)
        # After deactivate(), NO_PROXY is already extended: keep the first record.
        if change is not None:
            no_proxy_change = change
        pending.update(TARGETS)
        sys.meta_path.insert(0, finder)
        # A target imported, or being imported by another thread, before the finder
        # was inserted is patched now. importlib holds a module's lock from before it
        # calls the finders until the module is in sys.modules.
        bootstrap = sys.modules.get("importlib._bootstrap")
        locks = getattr(bootstrap, "_module_locks", None) or ()
        if not (pending.isdisjoint(sys.modules) and pending.isdisjoint(locks)):
            from loopback_shim import _patching
            _patching.patch_started_imports(finder)
    except Exception as exc:
        report_failure(exc)


def is_truthy(value):
    return (value or "").strip().lower() in _TRUE_VALUES


def report_failure(exc):
    """Print one line on stderr under LOOPBACK_SHIM_DEBUG, once per process."""
    global _reported
    import os

    if _reported or not is_truthy(os.environ.get("LOOPBACK_SHIM_DEBUG")):
        return
    _reported = True
    # An exception's text can contain a proxy URL: hide its userinfo, as the
    # shim's logger does ("http://user:password@host" -> "http://***@host").
    import re
    text = re.sub(r"((?:[A-Za-z][A-Za-z0-9+.-]*://)?)[^/@\s]*@", r"\1***@", str(exc))
    sys.stderr.write("loopback-shim: activation failed, stock proxy decisions"
                     " kept: %s: %s\n" % (type(exc).__name__, text))


def extend_environ_no_proxy(environ):
    """Append the loopback entries missing from no_proxy and NO_PROXY in place.

    Nothing happens unless some *_proxy variable is set: on macOS and Windows a
    NO_PROXY alone would switch Python from the system proxy to no proxy at all.
    Return (values before, values after) of both variables, None for an unset one,
    if anything changed, else None. A change also sets NO_PROXY_BEFORE.
    """
    # Iterating os.environ decodes each name and value in Python code, a few
    # microseconds per variable, and was most of activate()'s cost (CPython 3.11
    # and 3.13). So the raw names, bytes on POSIX and str on Windows, are first
    # searched in C for "_proxy".
    names = getattr(environ, "_data", None)
    if isinstance(names, dict):
        try:
            if b"_proxy" not in b"\0".join(names).lower():
                return None
        except TypeError:
            try:
                if "_proxy" not in "\0".join(names).lower():
                    return None
            except TypeError:
                pass
    proxy_set = False
    for key, value in environ.items():
        key = key.lower()
        if key.endswith("_proxy") and key != "no_proxy" and value.strip():
            proxy_set = True
            break
    if not proxy_set:
        return None
    lower = environ.get("no_proxy", "")
    upper = environ.get("NO_PROXY", "")
    if lower.strip() and upper.strip() and lower != upper:
        # Clients disagree on which spelling wins, so each keeps its own entries.
        values = {"no_proxy": extended_no_proxy(lower),
                  "NO_PROXY": extended_no_proxy(upper)}
    else:
        value = extended_no_proxy(lower if lower.strip() else upper)
        values = {"no_proxy": value, "NO_PROXY": value}
    before = {}
    for key in values:
        before[key] = environ.get(key)
    if before == values:
        return None
    for key, value in values.items():
        if before[key] != value:
            environ[key] = value
    environ[NO_PROXY_BEFORE] = repr((before["no_proxy"], before["NO_PROXY"]))
    return before, values


def extended_no_proxy(value):
    """Return ``value`` with the missing loopback entries appended after the user's.

    A ``*`` entry means "no proxy for any host" and is left alone, because adding
    entries would turn it into a list that proxies everything else.
    """
    present = set()
    for entry in value.split(","):
        present.add(entry.strip().lower())
    if "*" in present:
        return value
    missing = []
    for entry in LOOPBACK_NO_PROXY:
        if entry not in present:
            missing.append(entry)
    if not missing:
        return value
    kept = value.strip().rstrip(",")
    return ",".join([kept] + missing) if kept else ",".join(missing)


# importlib calls find_spec with its global import lock held (CPython 3.9 to 3.13,
# importlib._bootstrap._find_spec), so nothing here may import. A thread waiting
# here for a module that another thread is importing would deadlock, because that
# thread needs the global lock for its own nested imports. The shim's package
# loads in the loader's exec_module instead.
def find_spec(name, path=None, target=None):
    """Find a pending target with the finders after this one; wrap its loader."""
    if name not in pending:
        return None
    try:
        # Found by its find_spec, not through sys.modules, which a program may edit.
        finders = sys.meta_path
        start = len(finders)
        for index, finder in enumerate(finders):
            if getattr(finder, "find_spec", None) is find_spec:
                start = index + 1
                break
        for finder in finders[start:]:
            finder_find_spec = getattr(finder, "find_spec", None)
            if finder_find_spec is None:
                # Python 3.9 to 3.11 still load through a finder that has only
                # find_module (3.12 ignores it). Stand aside when one claims the
                # module, so the import gets that module, unpatched, as without us.
                find_module = getattr(finder, "find_module", None)
                if (sys.version_info < (3, 12) and find_module is not None
                        and find_module(name, path) is not None):
                    pending.discard(name)
                    report_skipped(name, finder)
                    return None
                continue
            spec = finder_find_spec(name, path, target)
            if spec is not None:
                if hasattr(spec.loader, "exec_module"):
                    spec.loader = wrap_loader(spec.loader, name)
                return spec
        return None
    except Exception as exc:
        report_failure(exc)
        return None


def wrap_loader(loader, name):
    """Return a loader that runs ``loader``, then has the module patched."""
    global _loader_class
    if _loader_class is None:
        class PatchingLoader:
            def __init__(self, loader, name):
                self.loader = loader
                self.name = name

            def __getattr__(self, attribute):
                return getattr(self.loader, attribute)

            def exec_module(self, module):
                # Hand the original loader back before the module runs, so that
                # code reading __loader__ or __spec__.loader (pkgutil,
                # importlib.resources) gets the original, not this wrapper.
                module.__loader__ = self.loader
                if getattr(module, "__spec__", None) is not None:
                    module.__spec__.loader = self.loader
                self.loader.exec_module(module)
                pending.discard(self.name)
                try:
                    from loopback_shim import _patching
                    _patching.apply(self.name, sys.modules.get(self.name, module))
                except Exception as exc:
                    report_failure(exc)

        _loader_class = PatchingLoader
    return _loader_class(loader, name)


def report_skipped(name, finder):
    """Print under LOOPBACK_SHIM_DEBUG that a target module was left unpatched."""
    import os

    if is_truthy(os.environ.get("LOOPBACK_SHIM_DEBUG")):
        sys.stderr.write("loopback-shim: %s not patched: %s loads it through find_module,"
                         " which the shim does not wrap\n" % (name, type(finder).__name__))
