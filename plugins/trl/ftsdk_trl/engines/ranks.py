"""Several training processes on this machine: the runner under ``accelerate launch``
(torchrun), watched by a launcher that says in the job's status which rank failed and why.

``python -m ftsdk_trl.engines.ranks JOB_DIR --num-processes N [--resume]`` is the process
the job folder records. It runs ``accelerate launch --multi_gpu`` in itself, so torchrun's
elastic agent is this process and the ranks are its children: torchrun stops every rank
when one fails and raises ``ChildFailedError``, whose failures (rank, pid, exit code or
signal, and the rank's traceback from its error file) become the job's error here, before
the launcher exits. Only rank 0 writes the job folder while training; the launcher writes
it once, when a rank failed.

On a machine without CUDA, ``--multi_gpu`` still goes through torchrun: the ranks train on
the CPU with gloo (``accelerate launch --cpu`` would run one process only).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import re
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from ftsdk.jobdir import JobDir, now_iso

__all__ = [
    "LAUNCHER_PID_ENV",
    "accelerate_arguments",
    "die_with_launcher",
    "failure_message",
    "launcher_command",
    "main",
]

LAUNCHER_PID_ENV = "FTSDK_RANKS_LAUNCHER_PID"
"""Set in every rank's environment to the launcher's pid: the ranks leave writing a
failure to the launcher (which sees them all) and end when it ends."""

RAISED_CHARS = 300
"""The most of a rank's exception (its first line) kept in the job's error's first line."""
TRACEBACK_CHARS = 3000
"""The most of a rank's traceback kept in the job's error (its end: where it raised)."""

_LINE_PREFIX = "[rank${rank}]: "
"""What torchrun puts before each line a rank prints, in the job's log."""


def launcher_command(job_path: Path, *, resume: bool, num_processes: int) -> list[str]:
    """The command line of a job trained by ``num_processes`` processes on this machine.

    >>> launcher_command(Path("/j"), resume=True, num_processes=2)[1:]
    ['-m', 'ftsdk_trl.engines.ranks', '/j', '--num-processes', '2', '--resume']
    """
    return [
        sys.executable,
        "-m",
        "ftsdk_trl.engines.ranks",
        str(job_path),
        "--num-processes",
        str(num_processes),
        *(["--resume"] if resume else []),
    ]


def accelerate_arguments(
    job_path: Path, *, resume: bool, num_processes: int, log_dir: Path | None = None
) -> list[str]:
    """``accelerate launch``'s arguments for the job's runner on ``num_processes`` ranks.

    Port 0: torchrun's rendezvous takes a free port, so two jobs run side by side. With
    ``log_dir``, torchrun tees each rank's output there and into the job's log, each line
    after its rank (``[rank1]: ...``).

    >>> accelerate_arguments(Path("/j"), resume=False, num_processes=2)[:6]
    ['--multi_gpu', '--num_processes', '2', '--num_machines', '1', '--main_process_port']
    """
    return [
        "--multi_gpu",
        "--num_processes",
        str(num_processes),
        "--num_machines",
        "1",
        "--main_process_port",
        "0",
        *(["--log_dir", str(log_dir), "--tee", "3"] if log_dir is not None else []),
        "-m",
        "ftsdk_trl.runner",
        str(job_path),
        *(["--resume"] if resume else []),
    ]


def failure_message(failures: dict[int, Any], num_processes: int) -> tuple[str, str]:
    """The job's error for torchrun's failed ranks (``ChildFailedError.failures``: rank to
    ``ProcessFailure``) and its code, the likely cause first, then what the others did.

    torchrun's own "first observed failure" is often a consequence: when a rank dies, its
    peers raise at their next collective ("Connection reset by peer") within the same
    second, and torchrun then stops them with SIGTERM. So the cause is, in this order: a
    rank killed by a signal torchrun does not send (SIGKILL, SIGSEGV...), a rank that
    raised anything but a lost peer, one that exited with a code, then the rest.

    :returns: the message (first line: what happened; then the cause's traceback when it
        raised) and ``process_died`` (killed) or ``training_error`` (raised).
    """

    def cause_first(rank: int) -> tuple[int, int, int]:
        failure = failures[rank]
        raised = _raised(failure)
        if failure.exitcode < 0 and failure.exitcode != -signal.SIGTERM and not raised:
            kind = 0
        elif raised and not _LOST_PEER.search(raised):
            kind = 1
        elif not raised and failure.exitcode > 0:
            kind = 2
        else:
            kind = 3
        return (kind, int(failure.timestamp), rank)

    ranks = sorted(failures, key=cause_first)
    first = failures[ranks[0]]
    message = f"rank {ranks[0]} of {num_processes} {_what_happened(first)}"
    others = [f"rank {rank} {_what_happened(failures[rank], like=first)}" for rank in ranks[1:]]
    if others:
        message += "; then " + "; ".join(others)
    trace = _traceback(first)
    if trace:
        message += f"\nrank {ranks[0]}'s traceback:\n{trace}"
    killed = first.exitcode < 0 and not _raised(first)
    return message, "process_died" if killed else "training_error"


_LOST_PEER = re.compile(
    r"by peer|broken pipe|connection (reset|closed|refused)|remote worker|"
    r"ProcessGroup.*(abort|timeout)|NCCL (communicator|error)",
    re.IGNORECASE,
)
"""What a rank raises when another rank vanished mid-collective (gloo, NCCL)."""


def _what_happened(failure: Any, like: Any = None) -> str:
    """``was killed by signal 9 (SIGKILL) (pid 42)``, ``raised ValueError: ... (pid 42,
    exit code 1)``, or ``raised ... (pid 42), then was stopped by signal 15 (SIGTERM)``;
    ``raised the same`` when it raised what the rank ``like`` raised (every rank reading
    the same broken file)."""
    raised = _raised(failure)
    shown = "the same" if like is not None and raised and raised == _raised(like) else raised
    signal_number = -failure.exitcode
    killed = f"signal {signal_number} ({failure.signal_name()})"
    if raised and failure.exitcode < 0:
        return f"raised {shown} (pid {failure.pid}), then was stopped by {killed}"
    if raised:
        return f"raised {shown} (pid {failure.pid}, exit code {failure.exitcode})"
    if failure.exitcode < 0:
        return f"was killed by {killed} (pid {failure.pid})"
    return f"exited with code {failure.exitcode} (pid {failure.pid})"


def _raised(failure: Any) -> str | None:
    """The exception a rank recorded in its error file (``ValueError: ...``), if any."""
    message = failure.message
    if not isinstance(message, dict) or not message.get("message"):
        return None
    text = str(message["message"]).strip().partition("\n")[0]
    return text if len(text) <= RAISED_CHARS else text[: RAISED_CHARS - 1] + "…"


def _traceback(failure: Any) -> str:
    """The end of the traceback a rank recorded in its error file, or ``""``."""
    message = failure.message
    if not isinstance(message, dict):
        return ""
    extra = message.get("extraInfo")
    stack = str(extra.get("py_callstack") or "") if isinstance(extra, dict) else ""
    stack = stack.strip()
    return stack if len(stack) <= TRACEBACK_CHARS else "…" + stack[-TRACEBACK_CHARS:]


def _write_failure(job: JobDir, message: str, code: str) -> None:
    """Mark the job failed with ``message``, unless it ended already (cancelled while the
    ranks stopped, or succeeded before a rank died on its way out)."""
    with job.locked():
        try:
            status = job.read_status()
        except FileNotFoundError:
            status = {}
        if status.get("status") not in (None, "queued", "running"):
            return
        headline = message.partition("\n")[0]
        job.add_event(f"failed: {headline}", level="error")
        job.update_status(
            status="failed",
            raw_status="process_died" if code == "process_died" else "failed",
            finished_at=now_iso(),
            error={"message": message, "code": code},
        )


def die_with_launcher() -> None:
    """In a rank: end (SIGTERM) when the launcher ends, even killed, so no rank outlives
    it (torchrun starts each rank in its own session, out of reach of the job's process
    group). Linux only; elsewhere a no-op."""
    launcher = os.environ.get(LAUNCHER_PID_ENV)
    if launcher is None or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    if str(os.getppid()) != launcher:  # it ended before the line above: end now
        os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    """Train the job on several ranks; exit 0, or 1 when a rank failed (the job's status
    says which and why), or 143 when stopped (cancel)."""
    from accelerate.commands.launch import (  # type: ignore[import-untyped]
        launch_command,
        launch_command_parser,
    )
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    parser = argparse.ArgumentParser(prog="python -m ftsdk_trl.engines.ranks")
    parser.add_argument("job_dir", type=Path)
    parser.add_argument("--num-processes", type=int, required=True)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    job = JobDir(args.job_dir.resolve())
    os.environ[LAUNCHER_PID_ENV] = str(os.getpid())
    os.environ["TORCHELASTIC_LOG_LINE_PREFIX_TEMPLATE"] = _LINE_PREFIX
    # torchrun's per-rank output and error files; removed at the end (the job's log keeps
    # every line, the job's status the failure)
    log_dir = Path(tempfile.mkdtemp(prefix="ftsdk-ranks-"))
    try:
        launch = launch_command_parser().parse_args(
            accelerate_arguments(
                job.path, resume=args.resume, num_processes=args.num_processes, log_dir=log_dir
            )
        )
        launch_command(launch)
    except ChildFailedError as err:
        message, code = failure_message(err.failures, args.num_processes)
        headline = message.partition("\n")[0]
        print(f"{err}\nftsdk: {headline}", file=sys.stderr, flush=True)
        _write_failure(job, message, code)
        return 1
    except SignalException as err:  # cancelled: torchrun stopped the ranks
        return 128 + int(err.sigval)
    except Exception as err:  # accelerate refused to start (a bad config): say it in the job
        import traceback

        traceback.print_exc()
        _write_failure(
            job, f"accelerate launch failed: {type(err).__name__}: {err}", "launch_error"
        )
        return 1
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
