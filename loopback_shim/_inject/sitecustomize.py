"""Activate loopback-shim for every interpreter that has this directory on PYTHONPATH.

``loopback-shim inject-path`` prints this directory and ``loopback-shim run`` puts it
on PYTHONPATH. Children inherit the variable, so a whole process tree is covered,
including interpreters from other environments and older Pythons, so this file must
stay harmless there. It parses on Python 2.7 and activates only on 3.9 and newer. It
loads the shim from its own installation without putting the rest of that
site-packages directory on sys.path, and it always runs the sitecustomize it shadows.
"""

import os
import sys


def _shim_root(shim_dir):
    # Installed: <site-packages>/loopback_shim/_inject; in a checkout the top-level
    # sitecustomize.py runs this file with the checkout as ``shim_dir``.
    if os.path.exists(os.path.join(shim_dir, "_loopback_shim_boot.py")):
        return shim_dir
    return os.path.dirname(os.path.dirname(shim_dir))


class _ShimOnlyFinder:
    """Finds loopback_shim and its boot module in one directory, nothing else."""

    loopback_shim_names = ("_loopback_shim_boot", "loopback_shim")

    def __init__(self, root, path_finder):
        self.root = root
        self.path_finder = path_finder

    def find_spec(self, name, path=None, target=None):
        if name not in self.loopback_shim_names:
            return None
        return self.path_finder.find_spec(name, [self.root], target)


def _activate(shim_dir):
    # importlib's PathFinder is always on sys.meta_path; using it imports nothing.
    path_finder = None
    for finder in sys.meta_path:
        if getattr(finder, "__name__", "") == "PathFinder":
            path_finder = finder
    if path_finder is None:
        return
    # Appended last, so a copy importable the normal way takes precedence.
    sys.meta_path.append(_ShimOnlyFinder(_shim_root(shim_dir), path_finder))
    import _loopback_shim_boot

    _loopback_shim_boot.activate()


def _run_shadowed_sitecustomize(shim_dir):
    # Import the next sitecustomize on sys.path (Debian's apport hook, a venv's,
    # a user's) with this directory hidden, as site would have without us.
    ours = sys.modules.pop("sitecustomize", None)
    hidden = []
    for index in range(len(sys.path) - 1, -1, -1):
        entry = sys.path[index]
        if os.path.abspath(entry or os.curdir) == shim_dir:
            hidden.append((index, entry))
            del sys.path[index]
    try:
        import sitecustomize  # noqa: F401
    except ImportError as exc:
        if getattr(exc, "name", "sitecustomize") != "sitecustomize":
            _print_error(exc)
        if ours is not None:
            sys.modules["sitecustomize"] = ours
    except Exception as exc:
        _print_error(exc)
        if ours is not None:
            sys.modules["sitecustomize"] = ours
    finally:
        for index, entry in reversed(hidden):
            sys.path.insert(index, entry)


def _print_error(exc):
    # The message site prints for a failing sitecustomize.
    sys.stderr.write("Error in sitecustomize; set PYTHONVERBOSE for traceback:\n"
                     "%s: %s\n" % (type(exc).__name__, exc))


def _main(shim_dir):
    if sys.version_info >= (3, 9):
        try:
            _activate(shim_dir)
        except Exception:
            pass  # the boot module reports its own failures under LOOPBACK_SHIM_DEBUG
    _run_shadowed_sitecustomize(shim_dir)


# The checkout's top-level sitecustomize.py runs this code in its own namespace and
# sets _loopback_shim_dir to the checkout directory first.
_main(globals().get("_loopback_shim_dir") or os.path.dirname(os.path.abspath(__file__)))
