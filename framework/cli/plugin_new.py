"""The verb ``plugin new``: write a new plugin package to start from.

``rankarena plugin new NAME --kind KIND[,KIND...] [--output DIR]`` writes the distribution
``rankarena-NAME`` into DIR (default ``./rankarena-NAME``) with one working component of
each kind asked for (``rankarena.scaffold``), then says the files written and what to run
next. A bad name, an unknown kind or a folder that exists and is not empty is a one-line
error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..scaffold import KINDS, write_plugin


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``plugin`` and its sub-verb ``new``."""
    p = subparsers.add_parser("plugin", help="write a new plugin package (plugin new)")
    verbs = p.add_subparsers(dest="plugin_command", metavar="COMMAND")
    p.set_defaults(handler=lambda _args, usage=p: usage.print_help() or 2)
    q = verbs.add_parser(
        "new", help="write a plugin package with one working component of each kind asked for"
    )
    q.add_argument("name", help="the plugin's name, [a-z][a-z0-9-]*: the package rankarena-NAME")
    q.add_argument(
        "--kind",
        action="append",
        required=True,
        metavar="KIND[,KIND...]",
        help=f"the kinds of component: {', '.join(KINDS)}, or all (repeatable)",
    )
    q.add_argument("--output", help="the folder to write (default: ./rankarena-NAME)")
    q.set_defaults(handler=cmd_plugin_new)


def cmd_plugin_new(args: argparse.Namespace) -> int:
    """Write the package, list its files and the commands to try it."""
    folder = Path(args.output or f"rankarena-{args.name}")
    written = write_plugin(args.name, args.kind, folder)
    print(f"wrote {len(written)} files to {folder}:")
    for path in written:
        print(f"  {path}")
    print("next:")
    print(f"  pip install -e {folder}")
    print(f"  pytest {folder / 'tests'}")
    print("  rankarena plugins")
    return 0
