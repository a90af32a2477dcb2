"""``python -m bitframe``: the same command line as the ``bitframe`` console script."""

import sys

from bitframe.cli import main

if __name__ == "__main__":
    sys.exit(main())
