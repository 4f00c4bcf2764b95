"""Getting training data to OpenAI once: reuse by content hash, the Files API for small
files, the multipart Uploads API for large ones (parts sent in parallel; the part ids kept
on disk, so a retried or later call sends only the parts still missing), then wait until
the file is processed."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ftsdk import errors
from ftsdk_openai.errors import translated

if TYPE_CHECKING:
    import openai
    from openai.types import FileObject, FilePurpose

__all__ = [
    "FILES_API_MAX_BYTES",
    "MAX_PART_BYTES",
    "BackoffGate",
    "Uploader",
    "hash_in_name",
    "stored_name",
]

FILES_API_MAX_BYTES = 512 * 1024 * 1024
MAX_PART_BYTES = 64 * 1024 * 1024
MAX_HOLD = 60.0
"""The longest one ``Retry-After`` holds the parts back, as the core bounds its own waits."""


def stored_name(path: Path, content_hash: str) -> str:
    """The name a file is stored under: the user's name with the content hash in it, so the
    same data is found again from any machine (``train.ftsdk-3f2a….jsonl``)."""
    return f"{path.stem}.ftsdk-{content_hash[:16]}{path.suffix}"


def hash_in_name(filename: str) -> str | None:
    """The content hash a :func:`stored_name` holds (``None`` for other names).

    >>> hash_in_name("train.ftsdk-3f2a9c0d1e2b4a5f.jsonl")
    '3f2a9c0d1e2b4a5f'
    """
    _stem, marker, tail = filename.rpartition(".ftsdk-")
    if not marker:
        return None
    return tail.split(".", 1)[0] or None


class BackoffGate:
    """One back-off for all the parts of an upload: when the service asks one part to wait
    (429 with ``Retry-After``), the parts sent in parallel wait too, instead of each
    running into the same limit.

    >>> gate = BackoffGate(sleep=print, clock=lambda: 100.0)
    >>> gate.hold(2.5); gate.wait()
    2.5
    """

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sleep, self._clock = sleep, clock
        self._lock = threading.Lock()
        self._open_at = 0.0

    def hold(self, seconds: float) -> None:
        """Keep every part back for ``seconds`` from now (at most :data:`MAX_HOLD`)."""
        with self._lock:
            self._open_at = max(self._open_at, self._clock() + min(seconds, MAX_HOLD))

    def wait(self) -> None:
        """Return once the service's last ``Retry-After`` has passed."""
        with self._lock:
            delay = self._open_at - self._clock()
        if delay > 0:
            self._sleep(delay)


class Uploader:
    """Uploads one file at a time for a provider.

    :param threshold: files at least this large go through the Uploads API.
    :param part_size: bytes per part (at most 64 MB).
    :param concurrency: parts sent at once.
    :param state_dir: where an unfinished multipart upload's part ids are kept, so a later
        call resumes it instead of starting over.
    """

    def __init__(
        self,
        client: Callable[[], openai.OpenAI],
        provider: str,
        *,
        threshold: int,
        part_size: int,
        concurrency: int,
        state_dir: Path,
        poll_interval: float = 1.0,
        processing_timeout: float = 3600.0,
    ) -> None:
        if not 0 < part_size <= MAX_PART_BYTES:
            raise errors.ConfigurationError(f"part_size must be 1..{MAX_PART_BYTES} bytes")
        self._client, self.provider = client, provider
        self.threshold, self.part_size, self.concurrency = threshold, part_size, concurrency
        self.state_dir = state_dir
        self.poll_interval, self.processing_timeout = poll_interval, processing_timeout
        self.gate = BackoffGate()
        """Shared by the parts in flight, so a 429 on one slows them all."""

    def upload(self, path: Path, *, purpose: str, content_hash: str) -> FileObject:
        """The processed file holding ``path``'s content, uploading it only if needed."""
        name = stored_name(path, content_hash)
        size = path.stat().st_size
        existing = self._find(content_hash, size, purpose)
        if existing is None:
            if size >= self.threshold or size > FILES_API_MAX_BYTES:
                existing = self._multipart(path, name, size, purpose, content_hash)
            else:
                with translated(self.provider), path.open("rb") as stream:
                    existing = self._client().files.create(
                        file=(name, stream), purpose=cast("FilePurpose", purpose)
                    )
        return self._processed(existing)

    def _find(self, content_hash: str, size: int, purpose: str) -> FileObject | None:
        """The stored file with this content, under any stem: the hash in its name (see
        :func:`stored_name`), its size and its purpose all equal. The ``purpose`` filter
        narrows the list where the service honours it; what comes back is checked all the
        same."""
        with translated(self.provider):
            for f in self._client().files.list(purpose=purpose):
                if (
                    hash_in_name(f.filename) == content_hash[:16]
                    and f.bytes == size
                    and f.purpose == purpose
                ):
                    return f
        return None

    def _processed(self, f: FileObject) -> FileObject:
        deadline = time.monotonic() + self.processing_timeout
        while f.status not in ("processed", "error"):
            if time.monotonic() > deadline:
                raise errors.Timeout(
                    f"file {f.id} still {f.status} after {self.processing_timeout:.0f}s",
                    provider=self.provider,
                )
            time.sleep(self.poll_interval)
            with translated(self.provider):
                f = self._client().files.retrieve(f.id)
        if f.status == "error":
            reason = f.status_details or "the provider gave no reason"
            raise errors.InvalidDataset(
                f"{f.filename}: OpenAI rejected the file: {reason}",
                problems=[reason],
                field="training_file",
                provider=self.provider,
            )
        return f

    # -- the Uploads API -------------------------------------------------------------------
    def _state_path(self, content_hash: str) -> Path:
        return self.state_dir / f"{content_hash}.json"

    def _load_state(self, content_hash: str, size: int) -> dict[str, Any] | None:
        try:
            state: dict[str, Any] = json.loads(self._state_path(content_hash).read_text())
        except (OSError, ValueError):
            return None
        if state.get("bytes") != size or state.get("part_size") != self.part_size:
            return None
        return state

    def _save_state(self, content_hash: str, state: dict[str, Any]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_dir, suffix=".tmp")
        with os.fdopen(fd, "w") as stream:
            json.dump(state, stream)
        os.replace(tmp, self._state_path(content_hash))

    def _multipart(
        self, path: Path, name: str, size: int, purpose: str, content_hash: str
    ) -> FileObject:
        state = self._load_state(content_hash, size)
        if state is not None:
            try:
                return self._send_parts(path, size, state, content_hash)
            except errors.InvalidRequest:
                pass  # expired, cancelled or unknown: start a new upload
        with translated(self.provider):
            upload = self._client().uploads.create(
                bytes=size,
                filename=name,
                mime_type="application/jsonl",
                purpose=cast("FilePurpose", purpose),
            )
        state = {"upload_id": upload.id, "bytes": size, "part_size": self.part_size, "parts": {}}
        self._save_state(content_hash, state)
        return self._send_parts(path, size, state, content_hash)

    def _send_parts(
        self, path: Path, size: int, state: dict[str, Any], content_hash: str
    ) -> FileObject:
        count = max(1, -(-size // self.part_size))
        parts: dict[str, str] = state["parts"]
        lock = threading.Lock()
        upload_id = state["upload_id"]

        def send(index: int) -> None:
            with path.open("rb") as stream:
                stream.seek(index * self.part_size)
                chunk = stream.read(self.part_size)

            self.gate.wait()
            try:
                with translated(self.provider):
                    part_id = self._client().uploads.parts.create(upload_id, data=chunk).id
            except errors.FtsdkError as err:
                asked = getattr(err, "retry_after", None)
                if isinstance(asked, (int, float)) and asked > 0:
                    self.gate.hold(float(asked))
                raise
            with lock:
                parts[str(index)] = part_id
                self._save_state(content_hash, state)

        todo = [i for i in range(count) if str(i) not in parts]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(len(todo), 1))) as pool:
            futures = [pool.submit(send, i) for i in todo]
        # Every part that made it is saved; a failed one fails the call, and the core's
        # retry of the call sends only the parts still missing.
        for future in futures:
            future.result()
        with translated(self.provider):
            done = self._client().uploads.complete(
                upload_id, part_ids=[parts[str(i)] for i in range(count)]
            )
        self._state_path(content_hash).unlink(missing_ok=True)
        if done.file is None:
            raise errors.ProviderUnavailable(
                f"upload {upload_id} completed without a file", provider=self.provider
            )
        return done.file
