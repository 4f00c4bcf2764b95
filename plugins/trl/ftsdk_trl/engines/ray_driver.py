"""The driver of a TRL job on a Ray cluster, the entrypoint the ray engine submits::

    python -m ftsdk_trl.engines.ray_driver JOB_DIR [--resume] [--caller-home PATH]

It runs on the cluster and trains the job under ``ray.train.torch.TorchTrainer`` with
``ScalingConfig(num_workers=num_processes, use_gpu=<the cluster has GPUs>)``. Each worker
runs the normal runner (:func:`ftsdk_trl.runner.run`) on the job folder; Ray Train sets
``RANK`` and the torch process group, so rank 0 alone writes the folder, as under
``accelerate launch``. The HF Trainer saves its checkpoints into the folder itself (no
``RayTrainReportCallback``: with a shared folder, its copies race rank 0's writes).

``JOB_DIR`` is the folder as the cluster sees it; with ``--caller-home`` (the ftsdk home of
the process that submitted the job, mounted here as ``FTSDK_HOME``), the paths spec.json
records are read under the mount, and the result model is written back in the caller's terms.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from ftsdk.jobdir import JobDir

__all__ = ["MountedJobDir", "main", "train_worker"]


class MountedJobDir(JobDir):
    """A job folder as a Ray Train worker sees it, through a mount of the caller's ftsdk
    home: paths under ``caller_home`` in spec.json read under ``mount``, the result model is
    recorded under ``caller_home``, where the caller reads it (both the same on a local
    cluster)."""

    def __init__(self, path: Path, *, caller_home: Path, mount: Path) -> None:
        super().__init__(path)
        self.caller_home, self.mount = caller_home, mount

    def read_spec(self) -> dict[str, Any]:
        """spec.json with its paths under the mount."""
        spec = super().read_spec()
        for key in ("model_path", "train_file", "validation_file"):
            if isinstance(spec.get(key), str):
                spec[key] = str(_moved(Path(spec[key]), self.caller_home, self.mount))
        return spec

    def update_status(self, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into status.json, a result model in the caller's terms."""
        if isinstance(changes.get("result_model"), str):
            result = Path(changes["result_model"])
            changes["result_model"] = str(_moved(result, self.mount, self.caller_home))
        return super().update_status(**changes)


def _moved(path: Path, old: Path, new: Path) -> Path:
    """``path`` under ``new`` when it is under ``old``; else ``path``."""
    return new / path.relative_to(old) if path.is_relative_to(old) else path


def _job(config: dict[str, Any]) -> MountedJobDir:
    mount = Path(config["mount"])
    return MountedJobDir(
        Path(config["job_dir"]), caller_home=Path(config["caller_home"] or mount), mount=mount
    )


def train_worker(config: dict[str, Any]) -> None:
    """One Ray Train worker: the runner on the job folder; rank 0 records a failure."""
    from ftsdk_trl import runner

    job = _job(config)
    try:
        runner.run(job, resume=bool(config["resume"]))
    except BaseException as err:
        if os.environ.get("RANK", "0") == "0":
            traceback.print_exc()
            runner.record_failure(job, err)
        raise


def _processes(spec: dict[str, Any], options: dict[str, Any]) -> int:
    """Workers to train on: as many as spec.json's batch split was made for (a resume runs
    as many as the run it continues), else ``num_processes``, else one."""
    batch = spec.get("batch")
    recorded = batch.get("num_processes") if isinstance(batch, dict) else None
    if isinstance(recorded, int) and not isinstance(recorded, bool) and 0 < recorded < 1024:
        return recorded
    return int(options.get("num_processes") or 1)


def main(argv: list[str] | None = None) -> int:
    """Train the job under Ray Train; exit 0 when it succeeded or paused, else 1 (2: the
    job folder is not on this node)."""
    parser = argparse.ArgumentParser(prog="python -m ftsdk_trl.engines.ray_driver")
    parser.add_argument("job_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--caller-home", type=Path)
    args = parser.parse_args(argv)
    mount = Path(os.environ.get("FTSDK_HOME") or args.job_dir.parent.parent.parent)
    config = {
        "job_dir": str(args.job_dir),
        "mount": str(mount),
        "caller_home": str(args.caller_home) if args.caller_home else None,
        "resume": args.resume,
    }
    job = _job(config)
    if not job.spec_file.is_file():
        print(
            f"ftsdk: no job folder at {job.path} on this Ray node: the cluster must reach the "
            "job folder (a local cluster, or the ftsdk home mounted on every node and given "
            "as provider_options.ray.storage)",
            file=sys.stderr,
        )
        return 2
    options: dict[str, Any] = job.read_spec().get("options") or {}
    import ray
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    ray.init()  # the cluster this Ray job runs on (Ray sets RAY_ADDRESS for it)
    workers = _processes(job.read_spec(), options)
    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    use_gpu = resources.get("GPU", 0) >= 1
    cpus = float((options.get("ray") or {}).get("num_cpus_per_worker") or 1.0)
    print(
        f"ftsdk: job {job.id} under Ray Train, {workers} worker(s), "
        f"{'one GPU' if use_gpu else 'no GPU'} and {cpus:g} CPU each",
        flush=True,
    )
    # The worker from the module by name, not from __main__: Ray pickles it by reference.
    worker = importlib.import_module("ftsdk_trl.engines.ray_driver").train_worker
    trainer = TorchTrainer(
        worker,
        train_loop_config=config,
        scaling_config=ScalingConfig(
            num_workers=workers,
            use_gpu=use_gpu,
            resources_per_worker={"CPU": cpus, **({"GPU": 1} if use_gpu else {})},
        ),
        run_config=RunConfig(
            name=job.id,
            storage_path=str(job.path / "ray"),
            failure_config=FailureConfig(max_failures=0),  # a failed job resumes by request
        ),
    )
    try:
        trainer.fit()
    except Exception:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
