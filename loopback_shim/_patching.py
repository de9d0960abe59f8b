"""Everything of the shim that runs inside a program once a target is imported.

- The import hook's second half. The boot module's finder stays on sys.meta_path in
  every process and wraps the loader of each target module. Right after the target
  executes, the wrapper calls apply() here, which imports the target's patch module
  and applies it. activate() calls patch_started_imports() for targets imported
  before the finder was inserted.
- Applying and undoing patches. Each replacement is a named wrapper that carries
  ``__wrapped__`` (the original) and ``__loopback_shim__``, so a second copy of the
  shim, a second activation or a reload never wraps a wrapper. A target's patches
  are applied as a group: if any step fails, because the target's internals changed,
  the steps already taken are undone and the target keeps its stock behaviour.
- goes_direct(), the one decision that every patch calls.
- Logging, silent unless asked and free when silent. Messages go to the
  ``loopback_shim`` logger, which carries a NullHandler; LOOPBACK_SHIM_DEBUG=1 (or
  the CLI's ``-v``) adds a stderr handler. The logging module is imported only when a
  message could reach someone: when debugging is on, or when the program has imported
  logging itself and so may have configured it.

These share one module because a first import of urllib.request loads every module
on this path, and finding and loading a module costs more than running the code of
a small one. BENCHMARKS.md has the first-import figures.
"""

import _thread
import functools
import os
import sys

from ._loopback import is_loopback_host

# Annotations only: the typing module costs milliseconds to import, and a process
# that imports urllib.request alone has not loaded it (CPython 3.9 to 3.13).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

LOGGER_NAME = "loopback_shim"

_MISSING = object()
# threading.RLock() returns this class on CPython. Importing threading instead
# would add up to a millisecond to a first import of urllib.request on 3.10+.
_lock = _thread.RLock()
_logger: "Any" = None
_reported_failures: "set[str]" = set()

# "scheme://user:password@host" -> "scheme://***@host"; also a bare "user:pw@host".
# Compiled on first use (re caches it), not on import.
_USERINFO = r"(?P<prefix>(?:[A-Za-z][A-Za-z0-9+.-]*://)?)[^/@\s]*@"


def patch_started_imports(finder: "Any") -> None:
    """Patch the targets imported, or being imported, before ``finder`` was inserted."""
    for name in sorted(finder.pending):
        if name in sys.modules or _is_import_in_progress(name):
            _patch_imported(finder, name)


def _is_import_in_progress(name: str) -> bool:
    # importlib takes a module's lock before it calls the finders, and the module
    # reaches sys.modules only after that, so a thread that found a target's spec
    # just before our finder was inserted shows up only through the lock.
    # NOTE: _module_locks is private to importlib._bootstrap (CPython 3.3 to 3.14).
    bootstrap = sys.modules.get("importlib._bootstrap")
    reference = getattr(bootstrap, "_module_locks", {}).get(name)
    lock = reference() if reference is not None else None
    if lock is None:
        return False
    import _thread

    return getattr(lock, "owner", None) not in (None, _thread.get_ident())


def _patch_imported(finder: "Any", name: str) -> None:
    try:
        module = sys.modules.get(name)
        spec = getattr(module, "__spec__", None)
        if module is None or getattr(spec, "_initializing", False):
            # Another thread is still importing the module, past this finder.
            # __import__ waits on the module's import lock until it is done.
            __import__(name)
            module = sys.modules[name]
    except Exception as exc:
        finder.pending.discard(name)
        failure_once("importing " + name, exc)
        return
    finder.pending.discard(name)
    apply(name, module)


def apply(name: str, module: "ModuleType") -> bool:
    """Apply the patch of target ``name`` to ``module``; False if none applied."""
    patch: Callable[[PatchGroup, Any], None]
    try:
        if name == "urllib.request":
            from ._patch_urllib import patch_urllib_request

            patch = patch_urllib_request
        elif name in ("requests", "pip._vendor.requests"):
            from ._patch_requests import patch_requests

            patch = patch_requests
        elif name in ("urllib3", "pip._vendor.urllib3"):
            from ._patch_urllib3 import patch_urllib3

            patch = patch_urllib3
        elif name == "httpx":
            from ._patch_httpx import patch_httpx

            patch = patch_httpx
        elif name == "aiohttp":
            from ._patch_aiohttp import patch_aiohttp

            patch = patch_aiohttp
        else:
            return False
    except Exception as exc:
        failure_once("patching " + name, exc)
        return False
    return apply_once(name, patch, module)


class Patch:
    """One replaced attribute, with what it held before."""

    def __init__(self, owner: "Any", name: str, original: "Any", replacement: "Any") -> None:
        self.owner = owner
        self.name = name
        self.original = original
        self.replacement = replacement

    def undo(self) -> None:
        owner_dict = vars(self.owner)
        if owner_dict.get(self.name, _MISSING) is not self.replacement:
            return  # replaced again by someone else since: leave theirs alone
        if self.original is _MISSING:
            delattr(self.owner, self.name)
        else:
            setattr(self.owner, self.name, self.original)


_applied: "list[Patch]" = []
_applied_targets: "set[str]" = set()


class PatchGroup:
    """The patches of one target module, applied all or none."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.patches: list[Patch] = []

    def wrap(self, owner: "Any", name: str, make_wrapper: "Callable[[Any], Any]") -> "Any":
        """Replace ``owner.name`` by ``make_wrapper(original)`` and return the wrapper.

        For a class, ``original`` is the attribute as looked up, so an inherited
        method is wrapped on the subclass and undo deletes it again.
        """
        current = getattr(owner, name)
        if getattr(current, "__loopback_shim__", False):
            return current
        wrapper = make_wrapper(current)
        if callable(current):
            functools.update_wrapper(wrapper, current)
        wrapper.__wrapped__ = current
        wrapper.__loopback_shim__ = True
        self.replace(owner, name, wrapper)
        return wrapper

    def replace(self, owner: "Any", name: str, replacement: "Any") -> None:
        original = vars(owner).get(name, _MISSING)
        setattr(owner, name, replacement)
        self.patches.append(Patch(owner, name, original, replacement))

    def rebind(self, replacements: "dict[str, tuple[Any, Any]]") -> None:
        """For each ``name: (original, replacement)``, replace ``original`` under
        ``name`` in every loaded module that bound it.

        ``from urllib.request import proxy_bypass`` copies the function into the
        importing module; a module that ran that line before the patch keeps the
        stock function unless its copy is replaced too. One pass over sys.modules
        serves every name, because the pass costs time per loaded module.
        """
        items = tuple(replacements.items())
        for module in list(sys.modules.values()):
            module_dict = getattr(module, "__dict__", None)
            if not isinstance(module_dict, dict):
                continue
            for name, (original, replacement) in items:
                if module_dict.get(name) is original:
                    self.replace(module, name, replacement)

    def undo(self) -> None:
        for patch in reversed(self.patches):
            patch.undo()
        self.patches.clear()


def apply_once(target: str, patch: "Callable[[PatchGroup, Any], None]", module: "Any") -> bool:
    """Run ``patch(group, module)`` once per target, keeping nothing if it fails."""
    with _lock:
        if target in _applied_targets:
            return False
        group = PatchGroup(target)
        try:
            patch(group, module)
        except Exception as exc:
            group.undo()
            failure_once("patching " + target, exc)
            return False
        _applied.extend(group.patches)
        _applied_targets.add(target)
    debug("patched %s (%d references)", target, len(group.patches))
    return True


def undo_all() -> None:
    """Restore every attribute the shim replaced, newest first."""
    with _lock:
        for patch in reversed(_applied):
            patch.undo()
        _applied.clear()
        _applied_targets.clear()


def applied_patches() -> "list[Patch]":
    with _lock:
        return list(_applied)


def goes_direct(host: object, client: str) -> bool:
    """Return True if ``client`` must send a request for ``host`` direct.

    Every patch calls this one decision. It never raises: on any failure the
    caller falls back to the stock decision.
    """
    try:
        if not is_loopback_host(host):
            return False
    except Exception as exc:  # pragma: no cover - the predicate catches its own errors
        failure_once("loopback check", exc)
        return False
    debug("%s: %s goes direct (loopback)", client, host)
    return True


def no_proxy_before_extension() -> "dict[str, str | None] | None":
    """Return no_proxy and NO_PROXY as they were before the shim extended them.

    None means the shim left them alone, or the program has set them since, in
    which case the values in the environment are the user's own. The process's own
    record comes first. A process that inherited an extended NO_PROXY from a parent
    with the shim reads the parent's record from the environment.
    """
    boot = sys.modules.get("_loopback_shim_boot")
    change = getattr(boot, "no_proxy_change", None)
    if change and _is_current(change[1]):
        return dict(change[0])
    if boot is None:
        return None
    inherited = _inherited_change(boot, os.environ.get(boot.NO_PROXY_BEFORE))
    if inherited and _is_current(inherited[1]):
        return dict(inherited[0])
    return None


_inherited: "tuple[str | None, Any]" = (None, None)


def _is_current(values: "dict[str, str]") -> bool:
    return all(os.environ.get(name) == value for name, value in values.items())


def _inherited_change(boot: "Any", record: "str | None") -> "Any":
    # Return the (before, after) pair that a parent's start-up recorded in
    # NO_PROXY_BEFORE, or None for a missing or invalid record. "after" is computed
    # again with the boot module's own rule. Each distinct record is parsed once.
    global _inherited
    if not record:
        return None
    if _inherited[0] == record:
        return _inherited[1]
    change = None
    try:
        import ast

        lower, upper = ast.literal_eval(record)
        if all(value is None or isinstance(value, str) for value in (lower, upper)):
            # The rule extends NO_PROXY only while some proxy variable is set.
            environ = {"http_proxy": "http://loopback-shim.invalid"}
            for name, value in (("no_proxy", lower), ("NO_PROXY", upper)):
                if value is not None:
                    environ[name] = value
            change = boot.extend_environ_no_proxy(environ)
    except Exception as exc:
        failure_once("reading " + boot.NO_PROXY_BEFORE, exc)
    _inherited = (record, change)
    return change


def debug_enabled() -> bool:
    value = os.environ.get("LOOPBACK_SHIM_DEBUG", "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def redact(text: object) -> str:
    """Return ``text`` with the userinfo of every URL in it replaced by ``***``."""
    import re

    return re.sub(_USERINFO, r"\g<prefix>***@", str(text))


def get_logger() -> "Any":
    """Return the ``loopback_shim`` logger, setting up its handlers on first use."""
    global _logger
    import logging

    logger = logging.getLogger(LOGGER_NAME)
    with _lock:
        if _logger is None:
            logger.addHandler(logging.NullHandler())
            if debug_enabled():
                enable_stderr_logging()
            _logger = logger
    return logger


def enable_stderr_logging() -> None:
    """Send the ``loopback_shim`` logger's debug messages to stderr."""
    import logging

    logger = logging.getLogger(LOGGER_NAME)
    for handler in logger.handlers:
        if getattr(handler, "loopback_shim_stderr", False):
            return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("loopback-shim: %(message)s"))
    handler.loopback_shim_stderr = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def debug(message: str, *args: object) -> None:
    """Log a debug message with credentials redacted, if anything can receive it."""
    logger = _logger
    if logger is None:
        if not debug_enabled() and "logging" not in sys.modules:
            return
        logger = get_logger()
    # Patched calls log every loopback decision, so this is the hot path.
    # isEnabledFor caches its result per logger.
    if logger.isEnabledFor(10):  # logging.DEBUG
        logger.debug(redact(message % args if args else message))


def failure_once(key: str, exc: "BaseException") -> None:
    """Log a failure inside the shim at most once per ``key`` and process."""
    with _lock:
        if key in _reported_failures:
            return
        _reported_failures.add(key)
    debug("%s failed, stock behaviour kept: %s: %s", key, type(exc).__name__, exc)
