"""Training files on Azure OpenAI, as each API version defines the Files API.

Neither version pages ``GET /files`` (no ``after`` parameter): one request, its ``data``
read once. The openai client would page it with ``after`` and, against a service that
ignores ``after`` and gives no ``has_more`` (2024-10-21's ``FileList`` has none), never
stop. The v1 API requires ``expires_after`` on ``POST /files`` and has no ``/uploads``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ftsdk import errors
from ftsdk_azure.reading import FILE_STATES
from ftsdk_azure.versions import ApiVersion
from ftsdk_openai.errors import translated
from ftsdk_openai.uploads import FILES_API_MAX_BYTES, Uploader, stored_name

if TYPE_CHECKING:
    from openai.types import FileObject, FilePurpose

__all__ = ["DEFAULT_FILE_TTL", "AzureUploader", "first_page"]

DEFAULT_FILE_TTL = 30 * 24 * 3600
"""Seconds an uploaded training file lives on the v1 API before Azure deletes it (30 days,
long enough for a queued job; override with ``file_ttl=``)."""


def first_page(page: Any) -> list[Any]:
    """The items of one list answer, never following a cursor."""
    data = getattr(page, "data", None)
    return list(data) if isinstance(data, list) else []


class AzureUploader(Uploader):
    """:class:`~ftsdk_openai.uploads.Uploader` for one Azure OpenAI API version."""

    def __init__(self, *args: Any, version: ApiVersion, file_ttl: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.version, self.file_ttl = version, file_ttl
        if not version.uploads:  # no /uploads on this version: every file goes to /files
            self.threshold = FILES_API_MAX_BYTES + 1

    def upload(self, path: Path, *, purpose: str, content_hash: str) -> FileObject:
        """The processed file holding ``path``'s content, uploading it only if needed."""
        name = stored_name(path, content_hash)
        size = path.stat().st_size
        existing = self._find(content_hash, size, purpose)
        if existing is None:
            if self.version.uploads and size >= self.threshold:
                existing = self._multipart(path, name, size, purpose, content_hash)
            else:
                extra: dict[str, Any] = {}
                if self.version.file_expiry:
                    extra["expires_after"] = {"anchor": "created_at", "seconds": self.file_ttl}
                with translated(self.provider), path.open("rb") as stream:
                    existing = self._client().files.create(
                        file=(name, stream), purpose=cast("FilePurpose", purpose), **extra
                    )
        return self._processed(existing)

    def _find(self, content_hash: str, size: int, purpose: str) -> FileObject | None:
        marker = f".ftsdk-{content_hash[:16]}"
        with translated(self.provider):
            files = first_page(self._client().files.list(purpose=purpose))
        for f in files:  # the purpose filter is defined, but what comes back is checked
            if (
                marker in str(getattr(f, "filename", ""))
                and getattr(f, "bytes", None) == size
                and getattr(f, "purpose", purpose) == purpose
                and FILE_STATES.get(str(getattr(f, "status", ""))) != "gone"
            ):
                return cast("FileObject", f)
        return None

    def _processed(self, f: FileObject) -> FileObject:
        """Wait until the file is ``processed``; every status word the specs list is
        handled (``deleting``/``deleted`` end the wait at once), an unknown one is waited
        on, up to the processing timeout."""
        deadline = time.monotonic() + self.processing_timeout
        while True:
            status = str(getattr(f, "status", "") or "")
            meaning = FILE_STATES.get(status, "waiting")
            if meaning == "ready":
                return f
            if meaning == "failed":
                reason = getattr(f, "status_details", None) or "Azure gave no reason"
                raise errors.InvalidDataset(
                    f"{f.filename}: Azure OpenAI rejected the file: {reason}",
                    problems=[str(reason)],
                    field="training_file",
                    provider=self.provider,
                )
            if meaning == "gone":
                raise errors.InvalidRequest(
                    f"file {f.id} is {status} on Azure OpenAI: upload it again",
                    field="training_file",
                    provider=self.provider,
                )
            if time.monotonic() > deadline:
                raise errors.Timeout(
                    f"file {f.id} still {status or 'without a status'} after "
                    f"{self.processing_timeout:.0f}s",
                    provider=self.provider,
                )
            time.sleep(self.poll_interval)
            with translated(self.provider):
                f = self._client().files.retrieve(f.id)
