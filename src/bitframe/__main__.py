"""``python -m bitframe``: the same command line as the ``bitframe`` console script."""

from bitframe.cli import run

if __name__ == "__main__":
    run()
