"""``FileRef``: a data file as a provider holds it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["FilePurpose", "FileRef"]

FilePurpose = Literal["fine-tune"]
"""Why a file is uploaded; ``"fine-tune"`` covers training and validation data."""


class FileRef(BaseModel):
    """A file a provider holds (or, for local providers, a file on disk).

    Pass one as ``JobSpec.training_data`` to reuse a file uploaded before.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    """The provider's file id (or a local provider's path)."""
    provider: str | None = None
    """Name of the provider that holds the file; ``None`` when not yet known."""
    filename: str | None = None
    """The file's name as stored."""
    bytes: int | None = None
    """Size in bytes."""
    purpose: FilePurpose = "fine-tune"
    """What the file is for."""
    status: Literal["uploaded", "processed", "error"] | None = None
    """``processed`` files are ready for a job; ``error`` ones carry ``status_details``."""
    status_details: str | None = None
    """The provider's validation message when processing failed, verbatim."""
    content_hash: str | None = None
    """sha256 of the content, used to avoid uploading the same data twice."""
    created_at: datetime | None = None
    """When the provider stored it."""
    path: Path | None = None
    """The local file, for providers that train from disk."""
