"""The job folder of a local job: moved to the core as :mod:`ftsdk.jobdir` (shared with
the AutoTrain provider); kept here so ``ftsdk_trl.jobdir`` imports keep working."""

from __future__ import annotations

from ftsdk.jobdir import (
    LOG_TAIL_BYTES,
    JobDir,
    append_jsonl,
    now_iso,
    read_jsonl,
    write_json_atomic,
)

__all__ = [
    "LOG_TAIL_BYTES",
    "JobDir",
    "append_jsonl",
    "now_iso",
    "read_jsonl",
    "write_json_atomic",
]
