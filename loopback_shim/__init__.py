"""loopback-shim: loopback traffic goes direct in every Python HTTP client.

Installed, the shim activates by itself in every interpreter of the environment.
The functions here are for programs where site does not run (``python -S``, frozen
applications) and for tests.
"""

import sys

from ._loopback import is_loopback_host

__all__ = ["activate", "deactivate", "is_loopback_host"]
__version__ = "0.1.0"


def activate() -> None:
    """Activate the shim in this process, as the .pth file does at start-up.

    Safe to call more than once, and a no-op when LOOPBACK_SHIM_DISABLE is set.
    Modules imported before the call are patched at once, the others on import.
    """
    import _loopback_shim_boot

    _loopback_shim_boot.activate()


def deactivate() -> None:
    """Remove the import hook and restore every patched reference.

    The NO_PROXY entries added to ``os.environ`` stay: child processes may already
    have inherited them, and removing them could drop a value the user relied on.
    """
    from ._patching import undo_all

    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "loopback_shim_marker", False)]
    undo_all()
    boot = sys.modules.get("_loopback_shim_boot")
    if boot is not None:
        # Let a later activate() run again in this process.
        vars(boot)["_activated"] = False
