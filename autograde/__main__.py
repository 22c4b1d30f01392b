"""python -m autograde: see autograde/cli.py (or `python -m autograde --help`)."""
import sys

from autograde.cli import main

if __name__ == "__main__":
    sys.exit(main())
