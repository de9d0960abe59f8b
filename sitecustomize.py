"""Activate loopback-shim for every interpreter that has this checkout on PYTHONPATH.

The work, including running the sitecustomize this file shadows, is done by the
copy that installed packages inject; this file runs it with its own directory.
"""

import os

_loopback_shim_here = os.path.dirname(os.path.abspath(__file__))
_loopback_shim_inject = os.path.join(
    _loopback_shim_here, "loopback_shim", "_inject", "sitecustomize.py")
with open(_loopback_shim_inject) as _loopback_shim_file:
    exec(compile(_loopback_shim_file.read(), _loopback_shim_inject, "exec"))
