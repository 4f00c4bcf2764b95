"""The background runner of one AutoTrain job: ``python -m ftsdk_autotrain.runner JOB_DIR``.

Runs in ftsdk's venv (it imports ftsdk only), detached from the caller. It

1. builds the AutoTrain runtime venv if it is not there yet (events show the progress),
2. runs ``drive.py`` with the runtime's interpreter, in the job folder, its output piped
   through here into ``log``,
3. turns AutoTrain's log lines into the job's status, events and metrics: the trainer's
   ``on_log`` dicts become metric rows (``loss`` is renamed ``train_loss``), its tqdm bar
   gives the step and the total, and its stage lines become events,
4. decides how the run ended. AutoTrain exits 0 when training fails, so the run failed when
   the log says ``train has failed due to an exception:`` (its message becomes the job's
   error), when the exit code is not 0, or when no model files were written.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ftsdk.jobdir import JobDir, now_iso

__all__ = ["LogParser", "main", "model_files"]

FAILED = "train has failed due to an exception:"
_ON_LOG = re.compile(r"autotrain\.trainers\.common:on_log:\d+ - (\{.*\})\s*$")
_TQDM = re.compile(r"^\s*\d+%\|[^|]*\|\s*(\d+)/(\d+) \[")
_LOGURU = re.compile(r"(INFO|WARNING|ERROR|SUCCESS|DEBUG)\s+\| [^|]+\| ([\w.]+):\w+:\d+ - (.*)$")
_STAGES = (
    "Starting to train...",
    "Finished training, saving model...",
    "Merging adapter weights...",
    "Successfully merged adapter weights",
    "Pushing model to hub...",
)
_RENAME = {"loss": "train_loss"}


def model_files(folder: Path) -> bool:
    """Whether ``folder`` holds trained weights (full/merged, or a LoRA adapter)."""
    full = (folder / "config.json").is_file() and any(folder.glob("model*.safetensors"))
    adapter = (folder / "adapter_config.json").is_file() and any(folder.glob("adapter_model.*"))
    return full or adapter


class LogParser:
    """Reads AutoTrain's output line by line and records what it means in the job folder."""

    def __init__(self, job: JobDir, *, epochs: float | None) -> None:
        self.job = job
        self.epochs = epochs
        self.step = 0
        self.total: int | None = None
        self.failed = False
        self.message: str | None = None
        self.traceback: list[str] = []
        self.result: Any = None
        self.summary: dict[str, float] = {}
        self._in_traceback = False

    def feed(self, line: str) -> None:
        """One line of output (tqdm's carriage returns already split off)."""
        text = line.rstrip()
        if text.startswith("FTSDK_RESULT "):
            self.result = json.loads(text.removeprefix("FTSDK_RESULT "))
            return
        record = _LOGURU.search(text)
        if self._in_traceback:
            if record is None:
                self.traceback.append(text)
                return
            self._in_traceback = False
            if record.group(1) == "ERROR" and self.message is None:
                self.message = record.group(3).strip()  # AutoTrain's one-line summary
        bar = _TQDM.match(text)
        if bar:  # a bar may run into the next log record on one line
            self._progress(int(bar.group(1)), int(bar.group(2)))
        found = _ON_LOG.search(text)
        if found:
            self._on_log(found.group(1))
            return
        if record is None:
            return
        message = record.group(3)
        if FAILED in message:
            self.failed = True
            self._in_traceback = True
            rest = message.split(FAILED, 1)[1].strip()
            self.traceback = [rest] if rest else []
            self.job.add_event("AutoTrain: " + FAILED, level="error")
        elif record.group(1) == "ERROR":
            self.job.add_event("AutoTrain: " + message.strip(), level="error")
        elif any(message.startswith(stage) for stage in _STAGES):
            self.job.add_event("AutoTrain: " + message.strip(), step=self.step)

    def error_message(self) -> str:
        """AutoTrain's own message for a failed run, with the end of its traceback."""
        lines = [line for line in self.traceback if line.strip()]
        last = next((line for line in reversed(lines) if not line.startswith(" ")), "")
        head = self.message or last or "see the job's log"
        tail = "\n".join(lines[-12:])
        return f"AutoTrain failed: {head}" + (f"\n{tail}" if tail else "")

    def _progress(self, step: int, total: int) -> None:
        if total != self.total:
            self.total = total
            self.job.update_status(total_steps=total, step=step)
            self.job.add_event(f"training: step {step} of {total}", step=step)
        if step != self.step:
            self.step = step
            if step % 5 == 0 or step == total:
                self.job.update_status(step=step)

    def _on_log(self, blob: str) -> None:
        try:
            values = ast.literal_eval(blob)
        except (ValueError, SyntaxError):
            return
        if not isinstance(values, dict):
            return
        numbers = {
            _RENAME.get(str(k), str(k)): float(v)
            for k, v in values.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        if "train_runtime" in numbers:  # the end-of-training summary, not a step
            self.summary = numbers
            self.job.add_event(
                f"training done in {numbers['train_runtime']:.1f} s, mean loss "
                f"{numbers.get('train_loss', float('nan')):.4f}",
                step=self.step,
            )
            return
        step = self._step_of(numbers.get("epoch"))
        self.job.add_metrics(step, numbers)
        self.job.update_status(step=step)
        shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(numbers.items()))
        self.job.add_event(f"step {step}: {shown}", step=step, metrics=numbers)

    def _step_of(self, epoch: float | None) -> int:
        """The optimizer step of an ``on_log`` row: from its epoch when the total is known
        (the bar may lag the callback), else the bar's last step."""
        if epoch is not None and self.total and self.epochs:
            return max(1, round(epoch * self.total / self.epochs))
        return max(self.step, 1)


def _lines(stream: Any) -> Any:
    """Lines of a binary stream, splitting on ``\\r`` too (tqdm redraws with it)."""
    buffer = b""
    while True:
        chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        if not chunk:
            break
        buffer += chunk
        parts = re.split(rb"\r\n|\r|\n", buffer)
        buffer = parts.pop()
        yield from parts
    if buffer:
        yield buffer


def run(job: JobDir) -> int:
    """Run the job to its end; return the exit status for the runner process."""
    from ftsdk_autotrain.runtime import RuntimeBuildError, runtime_for

    spec = job.read_spec()
    job.update_status(status="queued", raw_status="preparing_runtime")
    runtime = runtime_for(Path(spec["home"]), spec.get("python"))
    if not runtime.is_ready():
        job.add_event(f"building the AutoTrain runtime (minutes, once): {runtime.path}")
    try:
        python = runtime.ensure(progress=job.add_event)
    except RuntimeBuildError as err:
        _fail(job, str(err), "runtime_build_failed")
        return 1
    drive = Path(__file__).parent / "_runtime" / "drive.py"
    backend = spec["backend"]
    command = [str(python), str(drive), spec["params_file"], backend]
    env = _child_env(python, job, hosted=not backend.startswith("local"), options=spec["options"])
    job.update_status(status="running", raw_status="running", started_at=now_iso())
    job.add_event(f"AutoTrain {backend}: {spec['method']['type']} on {spec['base_model']}")
    parser = LogParser(job, epochs=spec["params"].get("epochs") or 1)
    with job.log_file.open("ab") as log:
        log.write(f"--- {now_iso()} {' '.join(command)}\n".encode())
        log.flush()
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=job.path,
            env=env,
        )
        assert child.stdout is not None
        for raw in _lines(child.stdout):
            log.write(raw + b"\n")
            log.flush()
            parser.feed(raw.decode("utf-8", "replace"))
        code = child.wait()
    return _finish(job, spec, parser, code)


def _child_env(
    python: Path, job: JobDir, *, hosted: bool, options: dict[str, Any]
) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(name, None)  # ftsdk's packages must not shadow the runtime's
    if not hosted:
        env.pop("HF_TOKEN", None)  # local training never needs it
        env["HF_HUB_OFFLINE"] = "1"
    env |= {
        "PATH": f"{python.parent}{os.pathsep}{env.get('PATH', '')}",  # `accelerate launch`
        "PYTHONUNBUFFERED": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HOME": env.get("HF_HOME") or str(job.path / "hf-home"),
        "WANDB_DISABLED": "true",
    }
    threads = options.get("num_threads")
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def _finish(job: JobDir, spec: dict[str, Any], parser: LogParser, code: int) -> int:
    if job.read_status().get("status") == "cancelled":
        return 0
    output = Path(spec["output_dir"])
    if parser.failed:
        _fail(job, parser.error_message(), "autotrain_failed")
        return 1
    if code != 0:
        tail = job.log_tail(2000)
        lines = [line for line in tail.splitlines() if line.strip()]
        last = next((line for line in reversed(lines) if not line.startswith(" ")), "")
        _fail(
            job,
            f"AutoTrain exited with status {code}: {last}\nend of its log:\n{tail}",
            "exit_status",
        )
        return 1
    if spec["backend"].startswith("local"):
        if not model_files(output):
            _fail(
                job,
                f"AutoTrain ended without writing model files to {output}; end of its log:\n"
                + job.log_tail(2000),
                "no_model_files",
            )
            return 1
        job.update_status(
            status="succeeded",
            raw_status="succeeded",
            finished_at=now_iso(),
            step=parser.total or parser.step,
            result_model=str(output),
        )
        job.add_event(f"succeeded: model in {output}")
        return 0
    job.update_status(
        status="running",
        raw_status="submitted",
        hosted_result=parser.result,
    )
    job.add_event(f"submitted to {spec['backend']}: {parser.result}")
    return 0


def _fail(job: JobDir, message: str, code: str) -> None:
    job.update_status(
        status="failed",
        raw_status=code,
        finished_at=now_iso(),
        error={"message": message, "code": code},
    )
    job.add_event(message.splitlines()[0] if message else code, level="error")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the runner process."""
    args = sys.argv[1:] if argv is None else argv
    job = JobDir(Path(args[0]).absolute())
    try:
        return run(job)
    except Exception as err:
        _fail(job, f"the AutoTrain runner crashed: {type(err).__name__}: {err}", "runner_crashed")
        raise


if __name__ == "__main__":
    sys.exit(main())
