"""``ftsdk-autotrain install-runtime`` (or ``python -m ftsdk_autotrain install-runtime``):
build the AutoTrain runtime venv now, with progress, instead of at the first job.

``ftsdk-autotrain runtime-info`` prints where it is and whether it is ready (JSON).
The core ``ftsdk`` CLI has no plugin sub-command hook yet, so this is its own command.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ftsdk.credentials import resolve_setting

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command; return its exit status."""
    parser = argparse.ArgumentParser(prog="ftsdk-autotrain")
    parser.add_argument("--home", help="the ftsdk home (default $FTSDK_HOME or ~/.cache/ftsdk)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install-runtime", help="build the AutoTrain runtime venv (minutes)")
    commands.add_parser("runtime-info", help="where the runtime is and whether it is ready")
    args = parser.parse_args(argv)
    from ftsdk_autotrain.runtime import RuntimeBuildError, runtime_for

    home = Path(resolve_setting(args.home, ["FTSDK_HOME"]) or "~/.cache/ftsdk").expanduser()
    runtime = runtime_for(home)
    if args.command == "runtime-info":
        info = {"python": str(runtime.python), "ready": runtime.is_ready(), "key": runtime.key}
        print(json.dumps(info, indent=1))
        return 0
    started = time.monotonic()
    try:
        python = runtime.ensure()
    except RuntimeBuildError as err:
        print(f"ftsdk-autotrain: {err}", file=sys.stderr)
        return 1
    print(f"{python} ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
