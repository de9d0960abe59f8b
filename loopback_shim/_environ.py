"""The proxy variables of the environment, as the command line shows and passes them."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from . import _patching

# Windows environment names are case-insensitive, so both spellings are one variable.
NO_PROXY_NAMES = ("NO_PROXY",) if sys.platform == "win32" else ("no_proxy", "NO_PROXY")


def is_proxy_variable(name: str) -> bool:
    """Return True for a variable that names a proxy (``HTTP_PROXY``, ``all_proxy``...)."""
    lowered = name.lower()
    return lowered.endswith("_proxy") and lowered != "no_proxy"


def proxy_variables(environ: Mapping[str, str]) -> dict[str, str]:
    """Return the non-empty proxy variables of ``environ``, credentials redacted."""
    return {
        name: _patching.redact(value)
        for name, value in sorted(environ.items())
        if is_proxy_variable(name) and value.strip()
    }


def no_proxy_values(environ: Mapping[str, str]) -> dict[str, str | None]:
    return {name: environ.get(name) for name in NO_PROXY_NAMES}


def startup_no_proxy() -> tuple[dict[str, str | None], bool]:
    """Return no_proxy and NO_PROXY as this process received them, and whether that is known.

    The boot module may have extended them in ``os.environ`` at start-up, and
    ``os.environ`` writes go to the C environment too. On Linux the kernel keeps
    the environment the process was started with in /proc/self/environ.
    """
    try:
        with open("/proc/self/environ", "rb") as file:
            block = file.read()
    except OSError:
        # NOTE: on macOS and Windows no copy of the start-up environment exists, so
        # the values shown are the ones after the shim's own normalisation.
        return no_proxy_values(os.environ), False
    values: dict[str, str | None] = dict.fromkeys(NO_PROXY_NAMES)
    for item in block.split(b"\0"):
        name, _, value = item.partition(b"=")
        text_name = os.fsdecode(name)
        if text_name in values:
            values[text_name] = os.fsdecode(value)
    return values, True


def startup_environ() -> dict[str, str]:
    """Return a copy of ``os.environ`` with no_proxy and NO_PROXY as at start-up."""
    environ = dict(os.environ)
    values, _ = startup_no_proxy()
    for name, value in values.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ


def normalised(environ: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of ``environ`` with NO_PROXY extended as the boot module does it."""
    import _loopback_shim_boot

    copy = dict(environ)
    _loopback_shim_boot.extend_environ_no_proxy(copy)  # type: ignore[no-untyped-call]
    return copy


def has_proxy_variable(environ: Mapping[str, str]) -> bool:
    """Return True if the boot module would extend NO_PROXY in ``environ``.

    Asks the boot module's own rule: with NO_PROXY removed, it writes NO_PROXY
    only when some proxy variable is set.
    """
    without = {k: v for k, v in environ.items() if k not in NO_PROXY_NAMES}
    return normalised(without) != without


def is_truthy(value: str | None) -> bool:
    import _loopback_shim_boot

    return bool(_loopback_shim_boot.is_truthy(value))  # type: ignore[no-untyped-call]

