"""Applying and undoing patches: a record of every replaced attribute.

Each replacement is a named wrapper that carries ``__wrapped__`` (the original) and
``__loopback_shim__``, so a second copy of the shim, a second activation or a reload
of the shim never wraps a wrapper. A target's patches are applied as a group: if any
step fails, because the target's internals changed, the steps already taken are
undone and the target keeps its stock behaviour.
"""

from __future__ import annotations

import _thread
import functools
import os
import sys
from collections.abc import Callable

from . import _log
from ._loopback import is_loopback_host

# Annotations only: the typing module costs milliseconds to import, and a process
# that imports urllib.request alone has not loaded it (CPython 3.9 to 3.13).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_MISSING = object()
# threading.RLock() returns this class on CPython. Importing threading instead
# would add up to a millisecond to a first import of urllib.request on 3.10+.
_lock = _thread.RLock()


class Patch:
    """One replaced attribute, with what it held before."""

    def __init__(self, owner: Any, name: str, original: Any, replacement: Any) -> None:
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


_applied: list[Patch] = []
_applied_targets: set[str] = set()


class PatchGroup:
    """The patches of one target module, applied all or none."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.patches: list[Patch] = []

    def wrap(self, owner: Any, name: str, make_wrapper: Callable[[Any], Any]) -> Any:
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

    def replace(self, owner: Any, name: str, replacement: Any) -> None:
        original = vars(owner).get(name, _MISSING)
        setattr(owner, name, replacement)
        self.patches.append(Patch(owner, name, original, replacement))

    def rebind(self, original: Any, replacement: Any, names: tuple[str, ...]) -> None:
        """Replace ``original`` under ``names`` in every loaded module that bound it.

        ``from urllib.request import proxy_bypass`` copies the function into the
        importing module; a module that ran that line before the patch keeps the
        stock function unless its copy is replaced too.
        """
        for module in list(sys.modules.values()):
            module_dict = getattr(module, "__dict__", None)
            if not isinstance(module_dict, dict):
                continue
            for name in names:
                if module_dict.get(name) is original:
                    self.replace(module, name, replacement)

    def undo(self) -> None:
        for patch in reversed(self.patches):
            patch.undo()
        self.patches.clear()


def apply_once(target: str, patch: Callable[[PatchGroup, Any], None], module: Any) -> bool:
    """Run ``patch(group, module)`` once per target, keeping nothing if it fails."""
    with _lock:
        if target in _applied_targets:
            return False
        group = PatchGroup(target)
        try:
            patch(group, module)
        except Exception as exc:
            group.undo()
            _log.failure_once("patching " + target, exc)
            return False
        _applied.extend(group.patches)
        _applied_targets.add(target)
    _log.debug("patched %s (%d references)", target, len(group.patches))
    return True


def undo_all() -> None:
    """Restore every attribute the shim replaced, newest first."""
    with _lock:
        for patch in reversed(_applied):
            patch.undo()
        _applied.clear()
        _applied_targets.clear()


def applied_patches() -> list[Patch]:
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
        _log.failure_once("loopback check", exc)
        return False
    _log.debug("%s: %s goes direct (loopback)", client, host)
    return True


def no_proxy_before_extension() -> dict[str, str | None] | None:
    """Return no_proxy and NO_PROXY as they were before the shim extended them.

    None means the shim left them alone, or the program has set them since, in
    which case the values in the environment are the user's own.
    """
    boot = sys.modules.get("_loopback_shim_boot")
    change = getattr(boot, "no_proxy_change", None)
    if not change:
        return None
    before, after = change
    for name, value in after.items():
        if os.environ.get(name) != value:
            return None
    return dict(before)
