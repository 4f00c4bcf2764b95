"""``max_running_jobs`` (the local base's setting): one job more than the limit is refused
before its folder is made, naming the jobs that run; a finished one frees its place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.errors import InvalidRequest
from ftsdk.jobs import JobStatus

FAST = {"num_threads": 1}


@pytest.fixture
def limited(home: Path) -> Iterator[ftsdk.Client]:
    with ftsdk.client("trl", home=str(home), max_running_jobs=1) as c:
        yield c


def test_one_job_over_the_limit_is_refused_until_one_ends(
    limited: ftsdk.Client, tiny_model: Path, dates: tuple[Path, list[dict[str, Any]]], home: Path
) -> None:
    spec = ftsdk.JobSpec(
        base_model=str(tiny_model),
        training_data=dates[0],
        method=ftsdk.SFT(epochs=50, batch_size=4),
        provider_options=FAST,
    )
    first = limited.train(spec)
    running = rf"already runs 1 job\(s\) on this machine \({first.id}\)"
    with pytest.raises(InvalidRequest, match=running) as caught:
        limited.train(spec)
    assert caught.value.code == "too_many_jobs"
    assert "max_running_jobs=1" in str(caught.value)
    assert [path.name for path in (home / "trl" / "jobs").iterdir()] == [first.id]
    assert first.cancel().status is JobStatus.CANCELLED
    second = limited.train(spec)  # the cancelled job no longer counts
    assert second.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    second.cancel()


def test_a_limit_below_one_is_a_clear_error(home: Path) -> None:
    with pytest.raises(InvalidRequest, match="max_running_jobs: 0 would refuse every job"):
        ftsdk.client("trl", home=str(home), max_running_jobs=0)
