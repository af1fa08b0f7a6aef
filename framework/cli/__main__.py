"""``python -m rankarena.cli``: the command line."""

from .main import main

raise SystemExit(main())
