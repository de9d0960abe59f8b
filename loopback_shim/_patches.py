"""Dispatch from a target module, when it is first imported, to its patch.

The boot module's finder calls apply() right after a target module executes, or at
activation for a target that is already imported. Each patch module is imported
only then, so a process that never imports a target never loads its patch.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from ._patching import PatchGroup, apply_once


def apply(name: str, module: ModuleType) -> bool:
    """Patch the target module ``name``; return False if it is unknown or failed."""
    patch: Callable[[PatchGroup, ModuleType], None]
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
    return apply_once(name, patch, module)
