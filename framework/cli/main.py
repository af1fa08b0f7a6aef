"""The ``rankarena`` command.

Verbs: ``plugins`` (what is installed and registered), ``plugin new`` (write a new plugin
package), ``devices`` (what the hooks report and which device a run would use), ``eval``
(score a run file on a dataset), ``retrieve`` (run a registered retriever over a dataset,
write the run, optionally score it), ``run`` (a TOML config of datasets × systems),
``aggregate`` (a leaderboard under several rules),
``audit`` (how few tasks change a leaderboard's winner; missing-data robustness),
``compare`` (paired significance tests, corrections and effect sizes), ``plan`` (how many
queries an experiment needs), ``mine`` and ``negatives`` (hard negatives), ``train``
(fine-tune a bi-encoder) and ``robustness`` (perturbations, attacks, out-of-domain and
multiplicity tables). Each family
of verbs is a module of this package with ``add_commands(subparsers)`` (``VERB_FAMILIES``);
plugins add verbs of their own through the ``register_commands`` hook
(``rankarena.cli.plugin_commands``), looked up only when the command line does not name a
built-in verb.
Every foreseeable failure (bad input, a path that cannot be read or written, a full disk,
a file in the wrong encoding, a memory refusal; ``rankarena.cli.error_lines``) ends with one line
``rankarena: error: ...`` on stderr and exit status 2; ``--debug`` (or ``RANKARENA_DEBUG=1``)
shows its traceback instead. Other exceptions are bugs and keep their traceback.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import warnings
from collections.abc import Collection, Sequence
from typing import NoReturn

from ..core.host import PluginHost, plugin_manager
from ..errors import RankarenaError
from . import (
    audit,
    compare,
    evaluate,
    installation,
    leaderboard,
    mine,
    negatives,
    plan,
    plugin_new,
    report,
    robustness,
    run,
    train,
)
from .arguments import EXIT_ERROR, OneLineParser, verb_parser
from .error_lines import error_line, single_line
from .plugin_commands import add_plugin_commands

FORESEEABLE = (RankarenaError, OSError, UnicodeDecodeError, csv.Error, RecursionError, MemoryError)
"""The exception classes ``main`` says in one line (``rankarena.cli.error_lines.error_line``)."""
DEBUG_ENV = "RANKARENA_DEBUG"
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141
PROG = "rankarena"
VERB_FAMILIES = (
    installation,
    plugin_new,
    evaluate,
    run,
    leaderboard,
    audit,
    compare,
    mine,
    train,
    robustness,
    report,
    negatives,
    plan,
)
"""The modules of the built-in verbs, each with ``add_commands(subparsers)``, in the order
``rankarena --help`` lists them."""
NEEDS_PLUGIN_VERBS = frozenset({"plugins"})
"""Built-in verbs that collect the plugins' verbs anyway: ``plugins`` lists their failures."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rankarena`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser, verbs = _assemble()
        if _needs_plugin_verbs(argv, verbs.choices):
            add_plugin_commands(verbs, plugin_manager(), PROG)
    except KeyboardInterrupt:  # while the plugins load
        print("rankarena: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a bad argument (2, said in one line)
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        with warnings.catch_warnings():
            if not _debug(args):
                warnings.showwarning = _warning_line
            code = args.handler(args)
            return 0 if code is None else code  # a plugin's handler may return None
    except KeyboardInterrupt:
        print("rankarena: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of our output went away (``| head``): say nothing
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except FORESEEABLE as exc:
        line = error_line(exc)
        if line is None or _debug(args):
            raise
        print(f"rankarena: error: {line}", file=sys.stderr)
        return EXIT_ERROR


def build_parser(host: PluginHost | None = None) -> argparse.ArgumentParser:
    """The ``rankarena`` parser: the global options, the built-in verbs, then the verbs of
    ``host``'s plugins (``register_commands``; none without ``host``)."""
    parser, verbs = _assemble()
    if host is not None:
        add_plugin_commands(verbs, host, PROG)
    return parser


def _assemble() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """The parser with the built-in verbs, and its verbs' subparsers (for plugin verbs)."""
    parser = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    _global_options(parser)
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=verb_parser)
    for family in VERB_FAMILIES:
        family.add_commands(verbs)
    return parser, verbs


def _global_options(parser: argparse.ArgumentParser) -> None:
    """The options before the verb: ``--device`` and ``--debug``."""
    parser.add_argument(
        "--device", help="run torch work on this device (default: the hooks' top priority)"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help=f"show the traceback of an error instead of one line (also {DEBUG_ENV}=1)",
    )


class _Probe(argparse.ArgumentParser):
    """A parser that raises instead of printing and exiting (``_needs_plugin_verbs``)."""

    def error(self, message: str) -> NoReturn:
        raise argparse.ArgumentError(None, message)


def _needs_plugin_verbs(argv: Sequence[str], builtin: Collection[str]) -> bool:
    """Whether parsing ``argv`` needs the plugins' verbs, and so the plugin host: unless it
    names a built-in verb (other than ``NEEDS_PLUGIN_VERBS``), without ``--help`` before it.
    ``rankarena --help``, no verb and a plugin's verb need them."""
    probe = _Probe(prog=PROG, add_help=False)
    _global_options(probe)
    probe.add_argument("-h", "--help", action="store_true")
    probe.add_argument("command", nargs="?")
    probe.add_argument("rest", nargs=argparse.REMAINDER)
    try:
        known, _ = probe.parse_known_args(argv)
    except argparse.ArgumentError:  # the real parser says what is wrong
        return True
    return known.help or known.command not in builtin or known.command in NEEDS_PLUGIN_VERBS


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """Say a warning (a damaged cache rebuilt, say) in one line: ``rankarena: warning: ...``
    (``--debug`` shows Python's usual form, with the file and line that warned)."""
    print(f"rankarena: warning: {single_line(str(message))}", file=file or sys.stderr)


def _debug(args: argparse.Namespace) -> bool:
    """``--debug`` given, or ``RANKARENA_DEBUG`` set to something other than 0/empty."""
    return args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0", "false", "no")


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (tests capture it)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
