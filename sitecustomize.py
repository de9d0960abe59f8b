"""Activate loopback-shim for every interpreter that has this checkout on PYTHONPATH.

The copy of this file that installed packages inject does the work, including running
the sitecustomize this file shadows. This file runs that copy with its own directory.
"""

import os

_loopback_shim_dir = os.path.dirname(os.path.abspath(__file__))
_loopback_shim_inject = os.path.join(
    _loopback_shim_dir, "loopback_shim", "_inject", "sitecustomize.py")
with open(_loopback_shim_inject) as _loopback_shim_file:
    exec(compile(_loopback_shim_file.read(), _loopback_shim_inject, "exec"))
