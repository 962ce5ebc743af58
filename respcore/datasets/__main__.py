"""Command line: ``python -m respcore.datasets check ROOT [--strict]``."""
from __future__ import annotations

import argparse
import sys

from .check import check
from .report import DatasetError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m respcore.datasets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("check", help="print what a dataset folder holds: counts, problems, fix-ups")
    cmd.add_argument("root", help="an ICBHI 2017 or SPRSound folder")
    cmd.add_argument("--strict", action="store_true", help="stop at the first skipped item")
    args = parser.parse_args(argv)
    try:
        print(check(args.root, strict=args.strict))
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
