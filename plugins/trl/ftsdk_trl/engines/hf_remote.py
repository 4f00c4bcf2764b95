"""What runs inside a Hugging Face Job: ``python -m ftsdk_trl.engines.hf_remote``.

It fetches the job's spec and data from the private dataset repo the provider uploaded them
to (``HF_TOKEN`` comes from the job's secrets), downloads the base model from the Hub, trains
with the normal runner (:mod:`ftsdk_trl.runner`) in a job folder of its own, and prints the
folder's status, events and metrics as JSON lines on stdout, each after :data:`PREFIX`: the
provider replays them from the job's log into the caller's job folder. At the end it pushes
the model to the repo it was given, then reports ``succeeded`` with that repo.

The runner itself gets no token (it reads local files only), and nothing printed carries
one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from ftsdk.jobdir import DamagedJob, JobDir, now_iso, read_jsonl, runner_env, write_json_atomic

__all__ = ["PREFIX", "STATUS_FIELDS", "main", "parse_line"]

PREFIX = "FTSDK-JOB "
"""The start of every line this runner prints for the provider (the rest is one JSON
object: ``{"seq": n, "kind": "status" | "event" | "metrics", "data": {...}}``)."""

STATUS_FIELDS = frozenset(
    {
        "status",
        "raw_status",
        "step",
        "total_steps",
        "started_at",
        "finished_at",
        "trained_tokens",
        "error",
        "train_runtime",
        "result_repo",
    }
)
"""The status fields that travel: paths of the remote machine (``result_model``) do not."""

POLL_S = 0.5


def parse_line(line: str) -> dict[str, Any] | None:
    """The record a log line carries, or ``None`` for any other line (training output).

    >>> parse_line('FTSDK-JOB {"seq": 1, "kind": "event", "data": {}}')["seq"]
    1
    >>> parse_line("loss 0.5") is None
    True
    """
    # A progress bar may end without a newline, so the record can follow it on its line.
    at = line.find(PREFIX)
    if at < 0:
        return None
    try:
        record = json.loads(line[at + len(PREFIX) :])
    except ValueError:
        return None
    if not (
        isinstance(record, dict)
        and isinstance(record.get("seq"), int)
        and record.get("kind") in ("status", "event", "metrics")
        and isinstance(record.get("data"), dict)
    ):
        return None
    return record


class Reporter:
    """Prints the job folder's changes as numbered records (one writer on stdout)."""

    def __init__(self, job: JobDir, out: IO[str]) -> None:
        self.job, self.out = job, out
        self.seq = 0
        self.events = self.metrics = 0
        self.status: dict[str, Any] = {}
        self.lock = threading.Lock()

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        """Print one record."""
        with self.lock:
            self.seq += 1
            record = {"seq": self.seq, "kind": kind, "data": data}
            self.out.write(PREFIX + json.dumps(record, sort_keys=True) + "\n")
            self.out.flush()

    def say(self, line: str) -> None:
        """Print a line of training output, whole, between records."""
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()

    def event(self, message: str, level: str = "info") -> None:
        """Report an event of this runner's own."""
        self.emit("event", {"created_at": now_iso(), "level": level, "message": message})

    def report_status(self, **changes: Any) -> None:
        """Report a status change of this runner's own."""
        self.status.update(changes)
        self.emit("status", dict(changes))

    def sync(self) -> None:
        """Print what the runner wrote to the folder since the last call; a ``succeeded``
        status is held back (the model is not pushed yet)."""
        events = read_jsonl(self.job.events_file)
        for row in events[self.events :]:
            shown = row
            if str(row.get("message", "")).startswith("succeeded: model saved to "):
                # not succeeded yet for the caller (not pushed), and a path of this machine
                shown = {**row, "message": "training finished: model saved, to be pushed"}
            self.emit("event", shown)
        self.events = len(events)
        metrics = read_jsonl(self.job.metrics_file)
        for row in metrics[self.metrics :]:
            self.emit("metrics", row)
        self.metrics = len(metrics)
        try:
            status = self.job.read_status()
        except (FileNotFoundError, DamagedJob):  # not written yet
            return
        shown = {k: v for k, v in status.items() if k in STATUS_FIELDS}
        if shown.get("status") == "succeeded":
            shown.update(status="running", raw_status="pushing")
            shown.pop("finished_at", None)
        changed = {k: v for k, v in shown.items() if self.status.get(k) != v}
        if changed:
            self.report_status(**changed)


def _forward(stream: IO[bytes], reporter: Reporter) -> None:
    """Copy the runner's output to ours line by line (``\\r`` ends a line too, so a
    progress bar never shares a line with a record)."""
    buffer = b""
    for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
        buffer += chunk.replace(b"\r", b"\n")
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.strip():
                reporter.say(line.decode("utf-8", "replace"))
    if buffer.strip():
        reporter.say(buffer.decode("utf-8", "replace"))


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    """Fetch, train, report, push; the exit code (0: the model is pushed)."""
    from huggingface_hub import HfApi, snapshot_download

    job, work = reporter.job, reporter.job.path.parent
    token = os.environ.get("HF_TOKEN")
    if not token:
        reporter.report_status(
            status="failed",
            raw_status="failed",
            finished_at=now_iso(),
            error={"message": "HF_TOKEN is not among the job's secrets", "code": "no_token"},
        )
        return 2
    endpoint = os.environ.get("HF_ENDPOINT") or None
    api = HfApi(endpoint=endpoint, token=token)
    reporter.report_status(status="running", raw_status="downloading", started_at=now_iso())
    inputs = Path(
        snapshot_download(
            args.inputs,
            repo_type="dataset",
            local_dir=work / "inputs",
            token=token,
            endpoint=endpoint,
        )
    )
    spec = json.loads((inputs / "spec.json").read_text(encoding="utf-8"))
    reporter.event(f"on Hugging Face Jobs: downloading {spec['base_model']}")
    model = snapshot_download(
        spec["base_model"], local_dir=work / "base", token=token, endpoint=endpoint
    )
    spec["model_path"] = str(model)
    spec["train_file"] = str(inputs / "train.jsonl")
    if spec.get("validation_file"):
        spec["validation_file"] = str(inputs / "valid.jsonl")
    write_json_atomic(job.spec_file, spec)
    env = runner_env(
        os.environ,
        PYTHONUNBUFFERED="1",
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
    )
    from ftsdk_trl.provider import launch_command

    # every GPU of the flavor (accelerate launch), or num_processes when the job says
    command = launch_command(
        job.path, resume=False, num_processes=(spec.get("options") or {}).get("num_processes")
    )
    runner = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    assert runner.stdout is not None
    copier = threading.Thread(target=_forward, args=(runner.stdout, reporter), daemon=True)
    copier.start()
    while runner.poll() is None:
        reporter.sync()
        time.sleep(POLL_S)
    copier.join(timeout=10)
    reporter.sync()
    status = job.read_status() if job.status_file.is_file() else {}
    if status.get("status") != "succeeded":
        if reporter.status.get("status") not in ("failed", "cancelled"):
            reporter.report_status(
                status="failed",
                raw_status="failed",
                finished_at=now_iso(),
                error={
                    "message": f"the training process exited {runner.returncode} unfinished",
                    "code": "process_died",
                },
            )
        return 1
    result = Path(status["result_model"])
    reporter.event(f"pushing the model to {args.repo}")
    api.create_repo(args.repo, private=args.private, exist_ok=True)
    api.upload_folder(folder_path=result, repo_id=args.repo, commit_message=f"ftsdk job {args.job}")
    reporter.event(f"model pushed to {args.repo}")
    reporter.report_status(
        status="succeeded",
        raw_status="succeeded",
        finished_at=status.get("finished_at") or now_iso(),
        result_repo=args.repo,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one job on Hugging Face Jobs, as the provider's command line says."""
    parser = argparse.ArgumentParser(prog="python -m ftsdk_trl.engines.hf_remote")
    parser.add_argument("--job", required=True, help="the job id (the caller's)")
    parser.add_argument("--inputs", required=True, help="the dataset repo with spec and data")
    parser.add_argument("--repo", required=True, help="the model repo to push the result to")
    parser.add_argument("--private", action="store_true", help="create the model repo private")
    parser.add_argument("--work", default="ftsdk-work", help="where to train")
    args = parser.parse_args(argv)
    job = JobDir(Path(args.work).absolute() / args.job)
    job.path.mkdir(parents=True, exist_ok=True)
    reporter = Reporter(job, sys.stdout)
    try:
        return run(args, reporter)
    except Exception as err:  # reported to the caller as the job's error, then the trace
        import traceback

        traceback.print_exc()
        message = f"{type(err).__name__}: {err}".strip()
        reporter.report_status(
            status="failed",
            raw_status="failed",
            finished_at=now_iso(),
            error={"message": message[:2000], "code": "remote_error"},
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
