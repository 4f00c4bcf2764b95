"""``split_batch``: the one rule by which local providers split ``batch_size``."""

from __future__ import annotations

import pytest

from ftsdk.batchplan import BatchPlan, split_batch
from ftsdk.errors import InvalidRequest


@pytest.mark.parametrize(
    ("batch", "processes", "accumulation", "cap", "plan"),
    [
        (16, 2, None, None, BatchPlan(16, 8, 1, 2)),
        (16, 2, 2, None, BatchPlan(16, 4, 2, 2)),
        (64, 2, None, 8, BatchPlan(64, 8, 4, 2)),
        (24, 1, None, 5, BatchPlan(24, 4, 6, 1)),  # the fewest steps under the cap
    ],
)
def test_a_plan_multiplies_back_to_the_batch(
    batch: int, processes: int, accumulation: int | None, cap: int | None, plan: BatchPlan
) -> None:
    got = split_batch(
        batch, processes=processes, accumulation=accumulation, max_per_device=cap, provider="x"
    )
    assert got == plan
    assert got.per_device_batch_size * got.gradient_accumulation_steps * processes == batch


def test_a_batch_that_does_not_split_names_the_nearest_that_do() -> None:
    with pytest.raises(InvalidRequest) as caught:
        split_batch(15, processes=2, accumulation=None, provider="autotrain")
    assert caught.value.field == "method.batch_size"
    assert caught.value.provider == "autotrain"
    assert caught.value.message.endswith("(num_processes=2); use a multiple of 2, e.g. 14 or 16")
    with pytest.raises(InvalidRequest, match=r"over 2 processes x 4 gradient_accumulation_steps"):
        split_batch(12, processes=2, accumulation=4, provider="trl")
