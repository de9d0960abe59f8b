"""Run the test suite on every CPython that pyenv has installed, 3.9 and newer.

``nox`` runs them all; ``nox -s tests-3.12`` runs one. Each session runs the same
command as the README: install tests/requirements.txt, then pytest.
"""

from __future__ import annotations

import glob
import os
import re

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True


def _pyenv_versions() -> list[str]:
    # Put each pyenv interpreter's bin directory on PATH, so that nox finds
    # "python3.X" there even when pyenv's shims would refuse that version.
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    versions = {}
    for bin_dir in sorted(glob.glob(os.path.join(root, "versions", "3.*", "bin"))):
        match = re.search(r"versions/3\.(\d+)\.\d+/bin$", bin_dir)
        if match:
            versions[int(match.group(1))] = bin_dir
    os.environ["PATH"] = os.pathsep.join([*versions.values(), os.environ.get("PATH", "")])
    return ["3.%d" % minor for minor in sorted(versions) if minor >= 9]


@nox.session(python=_pyenv_versions() or None)
def tests(session: nox.Session) -> None:
    session.install("-r", "tests/requirements.txt")
    session.run("python", "-m", "pytest", *session.posargs)
