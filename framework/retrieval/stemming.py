"""PyStemmer stemmers by name, with a one-line error listing the valid algorithms."""

from __future__ import annotations

from ..errors import ParameterError, did_you_mean


def load_stemmer(name: str | None, owner: str):
    """The PyStemmer stemmer ``name`` (``"porter"``, ``"english"``, ...), or None for
    ``None`` / ``""`` (TOML has no None). ``owner`` names the component in the error."""
    if not name:
        return None
    import Stemmer

    try:
        return Stemmer.Stemmer(name)
    except KeyError:
        valid = sorted(Stemmer.algorithms())
        raise ParameterError(
            f"{owner}: unknown stemmer {name!r}{did_you_mean(name, valid)}; "
            f"valid: {', '.join(valid)}"
        ) from None
