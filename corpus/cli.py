"""The `corpus` command. Sub-commands are plug-ins: each package registers an `add_commands`
function under the entry-point group `corpus.commands` (pyproject.toml), so this dispatcher imports
none of them by name and any installed package can add its own commands."""

from __future__ import annotations

import argparse
import logging
import sys
from importlib.metadata import entry_points


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="corpus",
        description="Build a DeepSeek-Coder-V2-style code + math pretraining corpus on Ray.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for ep in sorted(entry_points(group="corpus.commands"), key=lambda e: e.name):
        try:
            ep.load()(sub)
        except ImportError as exc:  # one broken plug-in must not take the others down
            print(f"corpus: command plug-in {ep.name!r} ({ep.value}) failed to load: {exc}", file=sys.stderr)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
