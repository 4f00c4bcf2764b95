"""How a job's ``batch_size`` is trained on this machine: the examples per optimizer step
(the same meaning on every provider) split over processes (one per GPU) and gradient
accumulation steps. Shared by the local providers, so a batch one refuses the other refuses
with the same words."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ftsdk.errors import InvalidRequest

__all__ = ["BatchPlan", "split_batch"]


@dataclass(frozen=True)
class BatchPlan:
    """``batch_size = per_device_batch_size x gradient_accumulation_steps x num_processes``."""

    batch_size: int
    per_device_batch_size: int
    gradient_accumulation_steps: int
    num_processes: int

    def as_dict(self) -> dict[str, int]:
        """The plan as a job records it (``spec.json``'s ``"batch"``)."""
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.batch_size} examples per optimizer step = {self.per_device_batch_size} "
            f"per device x {self.gradient_accumulation_steps} accumulation x "
            f"{self.num_processes} process{'es' if self.num_processes > 1 else ''}"
        )


def split_batch(
    batch: int,
    *,
    processes: int,
    accumulation: int | None,
    max_per_device: int | None = None,
    provider: str,
) -> BatchPlan:
    """Split ``batch`` examples per optimizer step over ``processes`` and accumulation steps.

    ``accumulation``, when given, is kept; otherwise it is 1, or the fewest steps that keep
    the per-device batch at most ``max_per_device``.

    >>> str(split_batch(16, processes=2, accumulation=2, provider="trl"))
    '16 examples per optimizer step = 4 per device x 2 accumulation x 2 processes'
    >>> split_batch(24, processes=1, accumulation=None, max_per_device=8, provider="trl")
    BatchPlan(batch_size=24, per_device_batch_size=8, gradient_accumulation_steps=3, \
num_processes=1)

    :raises InvalidRequest: ``batch`` does not split evenly (field ``method.batch_size``),
        naming the nearest batches that do; or a given ``accumulation`` leaves more than
        ``max_per_device`` (field ``method.gradient_accumulation_steps``).
    """
    processes = max(1, processes)
    unit = processes * (accumulation or 1)
    if batch % unit:
        lower = batch // unit * unit
        nearby = " or ".join(str(v) for v in (lower, lower + unit) if v > 0)
        split = f"{processes} process{'es' if processes > 1 else ''}" + (
            f" x {accumulation} gradient_accumulation_steps" if accumulation else ""
        )
        raise InvalidRequest(
            f"method.batch_size: {batch} examples per optimizer step do not split evenly over "
            f"{split} (num_processes={processes}); use a multiple of {unit}, e.g. {nearby}",
            field="method.batch_size",
            provider=provider,
        )
    per_process = batch // processes
    if accumulation is None:
        accumulation = 1
        if max_per_device is not None:
            # the fewest accumulation steps whose micro-batch fits under the cap
            accumulation = next(
                a
                for a in range(1, per_process + 1)
                if not per_process % a and per_process // a <= max_per_device
            )
    per_device = per_process // accumulation
    if max_per_device is not None and per_device > max_per_device:
        raise InvalidRequest(
            f"method.gradient_accumulation_steps: {accumulation} leaves {per_device} examples "
            f"per device, above max_per_device_batch_size {max_per_device}; leave "
            "gradient_accumulation_steps unset to derive it",
            field="method.gradient_accumulation_steps",
            provider=provider,
        )
    return BatchPlan(batch, per_device, accumulation, processes)
