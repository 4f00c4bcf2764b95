"""Writing examples as JSON Lines, atomically: a reader never sees half a file, and a failure
leaves the old file (or none) in place."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["jsonl_bytes", "write_atomic"]


def jsonl_bytes(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Each row as one UTF-8 JSON line (the bytes that are written, hashed and uploaded)."""
    dumps = json.dumps
    for row in rows:
        line = dumps(row, ensure_ascii=False) + "\n"
        try:
            yield line.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a "\\ud800" escape: keep it escaped
            yield (dumps(row) + "\n").encode("ascii")


def write_atomic(path: str | Path, chunks: Iterable[bytes]) -> Path:
    """Write ``chunks`` to ``path`` through a temporary file in the same folder and
    ``os.replace``; on any failure the temporary file is removed and ``path`` is untouched."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return target
