"""``python -m ftsdk_trl.engines install skypilot``: build an engine's runtime venv now.

SkyPilot runs from a venv of its own (its pins do not fit ftsdk's); a job builds it on
first use, this builds it ahead (``scripts/setup`` does, for the tests). Prints the
interpreter.
"""

from __future__ import annotations

import sys

from ftsdk.errors import FtsdkError
from ftsdk.runtimes import say_on_stderr

USAGE = "usage: python -m ftsdk_trl.engines install skypilot"


def main(argv: list[str] | None = None) -> int:
    """Build the runtime named on the command line; exit 0, 1 when the build failed."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["install", "skypilot"]:
        print(USAGE, file=sys.stderr)
        return 64
    from ftsdk_trl.engines.skypilot import runtime_for

    try:
        python = runtime_for().ensure(say_on_stderr("ftsdk-trl"))
    except FtsdkError as err:
        print(f"ftsdk-trl: {err}", file=sys.stderr)
        return 1
    print(python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
