"""The process that trains one job: ``python -m ftsdk_trl.runner JOB_DIR [--resume]``.

Started detached by the provider (or, on several processes, as each rank under ``accelerate
launch``: :mod:`ftsdk_trl.engines.ranks`). It reads ``spec.json``, trains, and writes status,
events, metrics and checkpoints into the job folder; it reads ``control`` at every step to
pause (save a checkpoint, exit ``paused``). With ``--resume`` it continues from the newest
complete checkpoint: step, optimizer, scheduler, RNG and data position, as
``Trainer.train(resume_from_checkpoint=...)`` restores.

On several ranks only rank 0 writes the job folder (status, events, metrics, setup.json, the
tokenizer and merged model; the Trainer saves checkpoints and weights from rank 0 too, and
each rank its own RNG state into the checkpoint). What rank 0 decides from the folder or
its clock (pause, a checkpoint every ``save_minutes``) it sends to the others at each step,
so every rank saves and stops at the same step.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftsdk.jobdir import JobDir, now_iso, write_json_atomic

if TYPE_CHECKING:
    from ftsdk_trl.speed import SpeedPlan

__all__ = ["main", "metric_values", "record_failure"]

NAMES = {
    "loss": "train_loss",
    "eval_loss": "valid_loss",
    "mean_token_accuracy": "train_accuracy",
    "eval_mean_token_accuracy": "valid_accuracy",
    "learning_rate": "learning_rate",
    "grad_norm": "grad_norm",
    "epoch": "epoch",
}
"""TRL's log keys under ftsdk's metric names; other numeric keys are kept as they are."""

SERVICE_NAMES = {"reward": "train_reward", "eval_reward": "valid_reward"}
"""GRPO's mean rewards also under the names ftsdk gives the OpenAI and Azure reinforcement
jobs' mean rewards, so code that reads a reinforcement job's metrics runs on any of them."""

STATUS_EVERY_S = 1.0


def metric_values(logs: dict[str, Any]) -> dict[str, float]:
    """A trainer log as ftsdk metrics (numbers only).

    >>> metric_values({"loss": 0.5, "reward": 0.25, "epoch": 1})
    {'train_loss': 0.5, 'reward': 0.25, 'train_reward': 0.25, 'epoch': 1.0}
    """
    values = {}
    for key, value in logs.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        values[NAMES.get(key, key)] = float(value)
        if key in SERVICE_NAMES:
            values[SERVICE_NAMES[key]] = float(value)
    return values


def _is_main_process() -> bool:
    # Under accelerate launch every rank runs this module; only rank 0 writes the folder.
    return os.environ.get("RANK", "0") == "0"


def _launcher_reports_failures() -> bool:
    """Whether :mod:`ftsdk_trl.engines.ranks` launched this rank: it writes a failure into
    the job, naming the rank, once it has seen every rank end."""
    from ftsdk_trl.engines.ranks import LAUNCHER_PID_ENV

    return LAUNCHER_PID_ENV in os.environ


def _agree(args: Any, *flags: bool) -> tuple[bool, ...]:
    """``flags`` as rank 0 has them, on every rank (one broadcast of a few integers; a
    single process returns them as they are). Ranks that decided apart (one pauses, one
    trains on) would fail at the next step's collective, the one left waiting for the
    other."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flags
    import torch

    shared = torch.tensor([int(flag) for flag in flags], dtype=torch.int32, device=args.device)
    dist.broadcast(shared, src=0)
    return tuple(bool(value) for value in shared.tolist())


def _callback(job: JobDir, main: bool, save_every_s: float | None, replayed: int = 0) -> Any:
    """The trainer callback that writes the job folder; steps up to ``replayed`` were
    logged by an earlier run (killed after its last checkpoint): their metrics are written
    again (the later row wins), their events are not (one event per step, as metrics)."""
    from transformers import TrainerCallback

    class JobFolderCallback(TrainerCallback):
        """Writes progress into the job folder and pauses when asked."""

        def __init__(self) -> None:
            self.paused = False
            self.last_status = 0.0
            self.last_tokens: tuple[float, float] | None = None
            self.last_save = time.monotonic()

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if main:
                job.update_status(
                    status="running",
                    raw_status="training",
                    step=state.global_step,
                    total_steps=state.max_steps,
                    started_at=job.read_status().get("started_at") or now_iso(),
                )
                job.add_event(
                    f"training: step {state.global_step} of {state.max_steps}",
                    step=state.global_step,
                )

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            now = time.monotonic()
            pause = main and job.requested() == "pause"
            save = main and save_every_s is not None and now - self.last_save >= save_every_s
            pause, save = _agree(args, pause, save)  # rank 0's folder and clock decide
            if pause:
                self.paused = True
                control.should_save = True
                control.should_training_stop = True
            if save:
                control.should_save = True
            if main and (now - self.last_status >= STATUS_EVERY_S or self.paused):
                self.last_status = now
                job.update_status(step=state.global_step)
            return control

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if not main or not logs:
                return
            if "train_runtime" in logs:  # the end-of-run summary, not a step
                job.update_status(train_runtime=float(logs["train_runtime"]))
                job.add_event(
                    f"training done in {logs['train_runtime']:.1f}s, "
                    f"average loss {logs.get('train_loss', float('nan')):.4g}",
                    step=state.global_step,
                )
                return
            values = metric_values(logs)
            tokens = logs.get("num_tokens")
            now = time.monotonic()
            if tokens is not None:
                if self.last_tokens is not None and now > self.last_tokens[0]:
                    rate = (float(tokens) - self.last_tokens[1]) / (now - self.last_tokens[0])
                    values["tokens_per_second"] = rate
                self.last_tokens = (now, float(tokens))
            step = state.global_step
            job.add_metrics(step, values)
            if step <= replayed:
                return
            shown = ", ".join(
                f"{k}={values[k]:.4g}"
                for k in ("train_loss", "valid_loss", "reward")
                if k in values
            )
            job.add_event(f"step {step}: {shown or 'metrics'}", step=step, metrics=values)

        def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.last_save = time.monotonic()
            if main:
                step = state.global_step
                job.update_status(step=step, trained_tokens=_tokens_seen(state))
                job.add_event(f"checkpoint saved at step {step}", step=step)

    return JobFolderCallback()


def run(job: JobDir, *, resume: bool) -> str:
    """Train the job; return its final status (``succeeded`` or ``paused``)."""
    main = _is_main_process()
    spec = job.read_spec()
    options: dict[str, Any] = spec.get("options") or {}
    import torch

    if options.get("num_threads"):
        torch.set_num_threads(int(options["num_threads"]))
    from ftsdk_trl.training import build_trainer, plan_speed

    checkpoint = job.last_checkpoint() if resume else None
    replayed = max((row["step"] for row in job.metrics()), default=0) if resume else 0
    if main:
        job.update_status(status="running", raw_status="loading")
        if checkpoint is not None:
            job.add_event(f"resuming from {checkpoint.name}")
            step = int(checkpoint.name.removeprefix("checkpoint-"))
            if replayed > step:
                job.add_event(
                    f"steps {step + 1}-{replayed} run again (logged before the runner "
                    "stopped, after the checkpoint): their metrics are replaced, their "
                    "events not repeated",
                    level="warning",
                )
        elif resume:
            job.add_event("no checkpoint yet: starting over", level="warning")
    minutes = options.get("save_minutes")
    callback = _callback(job, main, minutes * 60 if minutes else None, replayed)
    speed = plan_speed(
        model_path=spec["model_path"],
        method=spec["method"],
        train_file=spec["train_file"],
        options=options,
    )
    if main:
        _record_speed(job, speed)
    trainer = build_trainer(
        model_path=spec["model_path"],
        method=spec["method"],
        train_file=spec["train_file"],
        validation_file=spec.get("validation_file"),
        output_dir=job.checkpoints_dir,
        seed=int(spec.get("seed") or 0),
        options=options,
        callbacks=[callback],
        speed=speed,
        grader=spec.get("grader"),
    )
    if main:
        _record_batch(job, spec, trainer.args)
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if callback.paused:
        if main:
            job.clear_request()
            step = trainer.state.global_step
            job.update_status(status="paused", raw_status="paused", step=step)
            job.add_event(f"paused at step {step} (checkpoint saved)", step=step)
        return "paused"
    if main:
        job.update_status(raw_status="saving")
    trainer.save_model(str(job.model_dir))
    if main:
        trainer.processing_class.save_pretrained(str(job.model_dir))
        result = job.model_dir
        if options.get("merge") and spec["method"].get("adapter") in ("lora", "qlora"):
            result = _merge(trainer, job)
        state = trainer.state
        job.update_status(
            status="succeeded",
            raw_status="succeeded",
            step=state.global_step,
            trained_tokens=_tokens_seen(state),
            finished_at=now_iso(),
            result_model=str(result),
        )
        job.add_event(f"succeeded: model saved to {result}", step=state.global_step)
    return "succeeded"


def _record_batch(job: JobDir, spec: dict[str, Any], args: Any) -> None:
    """Say how the trainer splits ``batch_size``, read from its own arguments; warn when it
    differs from what spec.json planned (the GPUs visible changed before a resume)."""
    from ftsdk_trl.training import BatchPlan

    per_device, accumulation = args.per_device_train_batch_size, args.gradient_accumulation_steps
    # GRPO's batches hold num_generations answers per prompt; batch_size counts prompts
    per_device //= getattr(args, "num_generations", None) or 1
    used = BatchPlan(
        batch_size=per_device * accumulation * args.world_size,
        per_device_batch_size=per_device,
        gradient_accumulation_steps=accumulation,
        num_processes=args.world_size,
    )
    planned = spec.get("batch")
    if planned is not None and planned != used.as_dict():
        job.add_event(f"batch: {used}, not as planned ({planned})", level="warning")
    else:
        job.add_event(f"batch: {used}")


def _record_speed(job: JobDir, speed: SpeedPlan) -> None:
    """Write the job's resolved speed settings (value, default or option, and why) to
    ``setup.json`` in its folder, and say them in one event."""
    device = speed.device
    write_json_atomic(
        job.path / "setup.json",
        {
            "device": {
                "kind": device.kind,
                "name": device.name,
                "memory_bytes": device.memory_bytes,
            },
            "speed": speed.as_dict(),
        },
    )
    job.add_event(f"setup on {device.name}: {speed.summary()}")


def _tokens_seen(state: Any) -> int | None:
    """Tokens trained on so far, from TRL's ``num_tokens`` logs (kept across a resume)."""
    seen = [row["num_tokens"] for row in state.log_history if "num_tokens" in row]
    return int(max(seen)) if seen else None


def _merge(trainer: Any, job: JobDir) -> Path:
    merged = trainer.model.merge_and_unload()
    merged.requires_grad_(True)  # merge_and_unload leaves the base frozen
    merged.save_pretrained(str(job.merged_dir))
    trainer.processing_class.save_pretrained(str(job.merged_dir))
    job.add_event(f"adapter merged into {job.merged_dir}")
    return job.merged_dir


def main(argv: list[str] | None = None) -> int:
    """Run the job in the folder given on the command line; exit 0, or 1 on failure."""
    parser = argparse.ArgumentParser(prog="python -m ftsdk_trl.runner")
    parser.add_argument("job_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    job = JobDir(args.job_dir.resolve())
    launched = _launcher_reports_failures()
    if launched:
        from ftsdk_trl.engines.ranks import die_with_launcher

        die_with_launcher()
    try:
        run(job, resume=args.resume)
    except BaseException as err:
        traceback.print_exc()
        if launched:  # torchrun's error file: the launcher names this rank and its traceback
            _record_for_launcher(err)
        elif _is_main_process():
            record_failure(job, err)
        return 1
    return 0


def record_failure(job: JobDir, err: BaseException) -> None:
    """Mark ``job`` failed with ``err`` (code ``training_error``), with an error event: what
    the rank that writes the folder does when training raises (here, or in a Ray worker)."""
    message = f"{type(err).__name__}: {err}".strip()
    job.update_status(
        status="failed",
        raw_status="failed",
        finished_at=now_iso(),
        error={"message": message, "code": "training_error"},
    )
    job.add_event(f"failed: {message}", level="error")


def _record_for_launcher(err: BaseException) -> None:
    """Write ``err`` and its traceback into torchrun's error file for this rank
    (``TORCHELASTIC_ERROR_FILE``), where ``ChildFailedError`` reads it. Called while
    ``err`` is being handled."""
    from torch.distributed.elastic.multiprocessing.errors import ErrorHandler

    ErrorHandler().record_exception(err)


if __name__ == "__main__":
    sys.exit(main())
