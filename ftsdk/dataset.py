"""``Dataset``: training examples on disk (the toolkit grows here; see the dataset issue)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["Dataset"]

_CHUNK = 1 << 20


class Dataset:
    """Examples in a JSONL file, read lazily.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "train.jsonl"
    >>> _ = path.write_text('{"text": "a"}\\n{"text": "b"}\\n')
    >>> ds = Dataset.from_jsonl(path)
    >>> [row["text"] for row in ds], len(ds.content_hash())
    (['a', 'b'], 64)
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def from_jsonl(cls, path: str | Path) -> Dataset:
        """A dataset backed by the JSONL file at ``path``."""
        return cls(Path(path))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with self.path.open(encoding="utf-8") as stream:
            for line in stream:
                if line.strip():
                    row = json.loads(line)
                    if isinstance(row, dict):
                        yield row

    def content_hash(self) -> str:
        """sha256 of the file's bytes, streamed: the same data gives the same hash."""
        digest = hashlib.sha256()
        with self.path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def __repr__(self) -> str:
        return f"Dataset({str(self.path)!r})"
