"""No job id and no content of a job folder makes the TRL provider fail with anything but an
ftsdk error, or hang: any text as a job, checkpoint or model id; any bytes, any JSON, any
shape of status in status.json, events.jsonl, metrics.jsonl and spec.json. A damaged folder
is reported as damaged, left as it is, and never hides the job beside it."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import ftsdk
from ftsdk.errors import FtsdkError
from ftsdk.jobdir import JobDir
from ftsdk.jobs import JobStatus
from ftsdk.models import ModelInfo
from ftsdk_trl import provider as trl_provider

FAST = settings(
    database=None,  # nothing written in the repository
    deadline=timedelta(seconds=5),  # a hang fails the example, not the whole run
    suppress_health_check=[HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
words = st.sampled_from(
    ["queued", "running", "paused", "succeeded", "failed", "cancelled", "validating", "done",
     "2026-01-01T00:00:00+00:00", "2026-13-45", "checkpoint-1", "model", "trljob-", ""]
)  # fmt: skip
values = words | json_values
status_keys = st.sampled_from(
    ["status", "raw_status", "created_at", "started_at", "finished_at", "updated_at", "step",
     "total_steps", "trained_tokens", "error", "result_model", "metadata", "base_model",
     "method", "message", "code"]
)  # fmt: skip
row_keys = st.sampled_from(
    ["created_at", "message", "level", "type", "step", "metrics", "values", "train_loss"]
)
shaped_rows = st.dictionaries(
    row_keys, values | st.dictionaries(st.text(max_size=4), values, max_size=3), max_size=5
)
shaped_status = st.dictionaries(
    status_keys, values | st.dictionaries(status_keys, values, max_size=3), max_size=6
)


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()


file_bytes = st.one_of(
    st.binary(max_size=200),
    json_values.map(as_json),
    shaped_status.map(as_json),
    shaped_status.map(as_json).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),
)
lines_bytes = st.lists(
    st.one_of(st.binary(max_size=60), json_values.map(as_json), shaped_rows.map(as_json)),
    max_size=4,
).map(lambda lines: b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n")


@contextlib.contextmanager
def trl_home() -> Iterator[tuple[ftsdk.Client, JobDir]]:
    """A fresh home with one good job in it, and a client over it; no runner ever starts
    (resuming starts ``true``)."""
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            trl_provider, "launch_command", lambda *a, **k: [shutil.which("true") or "true"]
        )
        client = ftsdk.Client(trl_provider.TRLProvider(home=folder))
        good = client.provider.store.create()
        good.update_status(status="succeeded", created_at="2026-01-01T00:00:00+00:00")
        yield client, good


def only_ftsdk_errors(call: Callable[[], Any]) -> Any:
    with contextlib.suppress(FtsdkError):
        return call()
    return None


ids = st.one_of(
    st.text(max_size=300),
    st.text(max_size=20).map(lambda s: "trljob-" + s),
    st.text(alphabet="./\x00a-", max_size=40),
    st.integers(200, 400).map(lambda n: "trljob-" + "a" * n),
)


@settings(FAST, max_examples=150)
@given(ids, ids)
@example("..", "../../decoy/model")
@example("trljob-" + "a" * 300, "checkpoint-1\x00")
def test_fuzz_any_job_checkpoint_or_model_id(job_id: str, suffix: str) -> None:
    with trl_home() as (client, good):
        provider = client.provider
        for call in (
            lambda: client.job(job_id),
            lambda: provider.list_events(job_id, after=None),
            lambda: provider.list_metrics(job_id),
            lambda: provider.list_checkpoints(job_id),
            lambda: provider.cancel_job(job_id),
            lambda: provider.pause_job(job_id),
            lambda: provider.resume_job(job_id),
        ):
            only_ftsdk_errors(call)
        for model_id in (job_id, f"{good.id}:{suffix}", f"{job_id}:{suffix}"):
            path = only_ftsdk_errors(
                lambda m=model_id: provider._model_path(ModelInfo(id=m, provider="trl"))
            )
            if path is not None and str(model_id).startswith("trljob-"):
                assert path.resolve().is_relative_to(good.path.resolve()), (model_id, path)


@settings(FAST, max_examples=150)
@given(file_bytes, lines_bytes, lines_bytes, file_bytes)
@example(b"[1, 2]", b"\xff\n", b'{"step": "x"}\n', b'{"model_path": "/m", "me')
@example(b'{"status": "paused"}', b'{"message": "no time"}\n', b"[]\n", b"")
@example(b'{"status": "running", "result_model": "/elsewhere"}', b"", b"", b"{}")
def test_fuzz_any_job_folder_content(
    status: bytes, events: bytes, metrics: bytes, spec: bytes
) -> None:
    with trl_home() as (client, good):
        job = client.provider.store.create()
        for name, content in [
            ("status.json", status),
            ("events.jsonl", events),
            ("metrics.jsonl", metrics),
            ("spec.json", spec),
        ]:
            (job.path / name).write_bytes(content)

        listed = {found.id: found for found in client.jobs()}

        assert listed[good.id].status is JobStatus.SUCCEEDED  # never hidden by its neighbour
        handle = only_ftsdk_errors(lambda: client.job(job.id))
        if handle is None:
            return
        if handle.raw_status == "damaged":
            assert handle.status is JobStatus.FAILED
            assert handle.error is not None
            assert handle.error.code == "damaged_job"
            assert job.status_file.read_bytes() == status  # left for a person to look at
        only_ftsdk_errors(lambda: handle.events(all=True))
        only_ftsdk_errors(handle.metrics)
        only_ftsdk_errors(handle.checkpoints)
        only_ftsdk_errors(lambda: handle.wait(timeout=0.1, poll_interval=0.05, progress=False))
        only_ftsdk_errors(handle.resume)
        only_ftsdk_errors(handle.cancel)
        client.provider.store.reap(job)
