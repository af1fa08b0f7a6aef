"""Conformance rules of command-line verbs (``register_commands``), run in this process as
``rankarena VERB ...``.

* ``help``: ``rankarena VERB --help`` exits 0 and shows the verb's usage;
* ``runs``: ``rankarena VERB ARGS`` exits 0;
* ``bad-input-one-line``: an unknown option exits 2 with a one-line message.
"""

from __future__ import annotations

import contextlib
import io

from .rules import Checklist, require


def _rankarena(args: list[str]) -> tuple[int, str, str]:
    """``rankarena ARGS`` in this process: (exit status, stdout, stderr)."""
    from ..cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(args)
        except SystemExit as exit_:  # argparse's --help and usage errors
            status = exit_.code
    return int(status or 0), out.getvalue(), err.getvalue()


def check_command(verb: str, args: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Check the verb ``verb`` (added by a plugin's ``register_commands``) against every
    rule above, running it with ``args``; returns the rules passed.

    :raises ConformanceError: naming each broken rule.
    """
    rules = Checklist(f"command {verb!r}")

    def help_():
        status, out, err = _rankarena([verb, "--help"])
        require(status == 0, f"rankarena {verb} --help exited {status}: {err.strip()[-300:]}")
        require(verb in out, f"rankarena {verb} --help does not show its usage")

    rules.rule("help", help_)

    def runs():
        status, _out, err = _rankarena([verb, *args])
        require(
            status == 0, f"rankarena {verb} {' '.join(args)} exited {status}: {err.strip()[-300:]}"
        )

    rules.rule("runs", runs)

    def bad_input():
        status, _out, err = _rankarena([verb, *args, "--no-such-option-rankarena-kit"])
        lines = err.strip().splitlines()
        require(status == 2, f"an unknown option exited {status}, not 2")
        require(
            len(lines) == 1, f"an unknown option printed {len(lines)} lines: {err.strip()[:300]}"
        )

    rules.rule("bad-input-one-line", bad_input)
    return rules.verdict()
