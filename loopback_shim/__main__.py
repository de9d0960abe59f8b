"""``python -m loopback_shim``: the same command line as the ``loopback-shim`` script."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
