"""Logging for loopback-shim: silent unless asked, and free when silent.

Messages go to the ``loopback_shim`` logger, which carries a NullHandler. Setting
LOOPBACK_SHIM_DEBUG=1 (or the CLI's ``-v``) adds a stderr handler. The logging
module is imported only when a message could reach someone: when debugging is on,
or when the program has imported logging itself and so may have configured it.
"""

from __future__ import annotations

import _thread
import os
import re
import sys

# Annotations only: the typing module costs milliseconds to import, and a process
# that imports urllib.request alone has not loaded it (CPython 3.9 to 3.13).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

LOGGER_NAME = "loopback_shim"

_lock = _thread.allocate_lock()
_logger: Any = None
_reported_failures: set[str] = set()

# "scheme://user:password@host" -> "scheme://***@host"; also a bare "user:pw@host".
_USERINFO = re.compile(r"(?P<prefix>(?:[A-Za-z][A-Za-z0-9+.-]*://)?)[^/@\s]*@")


def debug_enabled() -> bool:
    value = os.environ.get("LOOPBACK_SHIM_DEBUG", "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def redact(text: object) -> str:
    """Return ``text`` with the userinfo of every URL in it replaced by ``***``."""
    return _USERINFO.sub(r"\g<prefix>***@", str(text))


def get_logger() -> Any:
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
    # Patched calls log every loopback decision, so this is the hot path:
    # isEnabledFor caches its answer per logger.
    if logger.isEnabledFor(10):  # logging.DEBUG
        logger.debug(redact(message % args if args else message))


def failure_once(key: str, exc: BaseException) -> None:
    """Log a failure inside the shim at most once per ``key`` and process."""
    with _lock:
        if key in _reported_failures:
            return
        _reported_failures.add(key)
    debug("%s failed, stock behaviour kept: %s: %s", key, type(exc).__name__, exc)
