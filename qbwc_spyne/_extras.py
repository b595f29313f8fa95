"""The one way the package says an optional extra is missing, and how to install it.

Every message naming a missing extra gives the exact command twice: for an
installed package, and for a clone of the repository, where
``qbwc_spyne[extra]`` would fetch the release from the index instead of the
code at hand.
"""

from __future__ import annotations

__all__ = ["install_command", "needs_extra"]


def install_command(extra: str) -> str:
    """The commands that install ``extra``, from the index and from a clone.

    ``install_command("postgres")`` is ``pip install 'qbwc_spyne[postgres]'
    (from a clone of the repository: pip install '.[postgres]')``.
    """
    return (
        f"pip install 'qbwc_spyne[{extra}]'"
        f" (from a clone of the repository: pip install '.[{extra}]')"
    )


def needs_extra(what: str, *, package: str, extra: str) -> str:
    """The message for ``what`` needing ``package``, which ``extra`` brings.

    ``needs_extra("PostgreSQL", package="psycopg 3", extra="postgres")`` is
    ``PostgreSQL needs psycopg 3, in the postgres extra: pip install ...``.
    """
    return f"{what} needs {package}, in the {extra} extra: {install_command(extra)}"
