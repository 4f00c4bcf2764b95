"""What the emulated services do with data: validate files, size jobs, move them through
their lifecycle, and answer chats from what a model was trained on."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ftsdk_emulator.state import Checkpoint, Event, Job, Store, new_id

__all__ = [
    "add_event",
    "advance",
    "billed_seconds",
    "finish",
    "answer",
    "auto_hyperparameters",
    "count_tokens",
    "examples_of",
    "guess_method",
    "inspect_file",
]

_WORD = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: words and punctuation marks."""
    return len(_WORD.findall(text))


def _fail(line: int, key: str | None, why: str) -> str:
    where = f"Line {line}" + (f', key "{key}"' if key else "")
    return f"Invalid file format. {where}: {why}"


def _check_messages(line: int, messages: object, key: str = "messages") -> str | None:
    if not isinstance(messages, list) or not messages:
        return _fail(line, key, "Expected a non-empty list of messages.")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return _fail(line, f"{key}.{i}", "Expected an object.")
        role = message.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            return _fail(
                line,
                f"{key}.{i}.role",
                f"Unrecognized role {role!r}; expected system, user, assistant or tool.",
            )
        if role != "assistant" and not isinstance(message.get("content"), (str, list)):
            return _fail(line, f"{key}.{i}.content", "Expected a string.")
    return None


@dataclass(frozen=True)
class FileSummary:
    """What processing a training file found."""

    examples: int
    tokens: int
    error: str | None
    """The first problem, in the service's words."""


def _check_row(number: int, row: object, method: str) -> str | None:
    if not isinstance(row, dict):
        return _fail(number, None, "Expected a JSON object.")
    if method == "dpo":
        return _check_preference(number, row)
    if method == "reinforcement":
        return _check_prompt(number, row)
    if "messages" in row:
        problem = _check_messages(number, row["messages"])
        if problem is None and not any(
            isinstance(m, dict) and m.get("role") == "assistant" for m in row["messages"]
        ):
            problem = _fail(number, "messages", "At least one message must be from the assistant.")
        return problem
    if "prompt" in row and "completion" in row:
        return None
    return _fail(number, "messages", "Required key is missing.")


def _check_prompt(line: int, row: dict[str, Any]) -> str | None:
    """A reinforcement row: messages ending with a user turn; other keys are the grader's."""
    problem = _check_messages(line, row.get("messages"))
    if problem is None and row["messages"][-1].get("role") != "user":
        n = len(row["messages"]) - 1
        problem = _fail(line, f"messages.{n}.role", "The last message must be from the user.")
    return problem


def guess_method(content: bytes) -> str:
    """The method a fine-tune file is for, from its first row, as the service checks a file
    on upload before any job says: preference pairs, prompts (messages ending with a user
    turn, beside the fields a grader reads: reinforcement) or supervised examples. Prompts
    with no other field read as supervised examples that lack their answer."""
    if b'"preferred_output"' in content[:65536]:
        return "dpo"
    for _, raw in _rows(content):
        try:
            row = json.loads(raw)
        except ValueError:
            break
        messages = row.get("messages") if isinstance(row, dict) else None
        last = messages[-1] if isinstance(messages, list) and messages else None
        fields = set(row) - {"messages", "tools", "parallel_tool_calls"}
        if isinstance(last, dict) and last.get("role") == "user" and fields:
            return "reinforcement"
        break
    return "supervised"


def _rows(content: bytes) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(content.split(b"\n"), start=1):
        if raw.strip():
            yield number, raw


def inspect_file(content: bytes, method: str) -> FileSummary:
    """Check JSONL the way the fine-tuning service does, line by line, stopping at the
    first problem; tokens are estimated at four bytes each."""
    count = 0
    for number, raw in _rows(content):
        try:
            row = json.loads(raw)
        except UnicodeDecodeError as err:
            return FileSummary(count, 0, _fail(number, None, f"Not valid UTF-8 ({err.reason})."))
        except json.JSONDecodeError as err:
            return FileSummary(count, 0, _fail(number, None, f"Invalid JSON ({err.msg})."))
        problem = _check_row(number, row, method)
        if problem:
            return FileSummary(count, 0, problem)
        count += 1
    if not count:
        return FileSummary(0, 0, "Invalid file format. The file contains no examples.")
    return FileSummary(count, len(content) // 4, None)


def _check_preference(line: int, row: dict[str, Any]) -> str | None:
    for key in ("input", "preferred_output", "non_preferred_output"):
        if key not in row:
            return _fail(line, key, "Required key is missing.")
    source = row["input"]
    if not isinstance(source, dict):
        return _fail(line, "input", "Expected an object with messages.")
    return (
        _check_messages(line, source.get("messages"), "input.messages")
        or _check_messages(line, row["preferred_output"], "preferred_output")
        or _check_messages(line, row["non_preferred_output"], "non_preferred_output")
    )


def examples_of(content: bytes) -> list[tuple[str, str]]:
    """(prompt, answer) pairs a fine-tuned model answers from: the last user message and
    the (preferred) assistant reply of each valid example."""
    pairs = []
    for _, raw in _rows(content):
        try:
            row = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(row, dict):
            continue
        if "input" in row:
            messages, reply = row["input"].get("messages", []), row.get("preferred_output", [])
        elif "messages" in row:
            messages, reply = row["messages"][:-1], row["messages"][-1:]
        else:
            pairs.append((str(row.get("prompt")), str(row.get("completion"))))
            continue
        users = [m for m in messages if m.get("role") == "user"]
        answers = [m for m in reply if m.get("role") == "assistant"]
        if users and answers:
            pairs.append((_text(users[-1].get("content")), _text(answers[-1].get("content"))))
    return pairs


def _text(content: object) -> str:
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def auto_hyperparameters(n_examples: int, given: dict[str, Any]) -> dict[str, Any]:
    """Fill ``"auto"`` values the way OpenAI documents its defaults."""
    epochs = given.get("n_epochs", "auto")
    if epochs == "auto":
        # OpenAI's rule: aim for 100..25,000 examples seen, 3 epochs when in range.
        if n_examples * 3 < 100:
            epochs = min(25, math.ceil(100 / n_examples))
        elif n_examples * 3 > 25_000:
            epochs = max(1, 25_000 // n_examples)
        else:
            epochs = 3
    batch = given.get("batch_size", "auto")
    if batch == "auto":
        batch = max(1, min(256, round(n_examples * 0.002)))
    lr = given.get("learning_rate_multiplier", "auto")
    filled = {
        **given,
        "n_epochs": int(epochs),
        "batch_size": int(batch),
        "learning_rate_multiplier": 1.8 if lr == "auto" else lr,
    }
    if "beta" in given and given["beta"] == "auto":
        filled["beta"] = 0.1
    return filled


def auto_reinforcement(n_examples: int, given: dict[str, Any]) -> dict[str, Any]:
    """Fill a reinforcement job's ``"auto"`` values (as a job read back shows them)."""
    filled = auto_hyperparameters(n_examples, given)
    defaults = {"compute_multiplier": 1.0, "eval_interval": 1, "eval_samples": 1}
    for name, value in defaults.items():
        if filled.get(name, "auto") == "auto":
            filled[name] = value
    filled.setdefault("reasoning_effort", "medium")
    if filled["reasoning_effort"] == "default":
        filled["reasoning_effort"] = "medium"
    return filled


def _loss(job: Job, step: int) -> float:
    """A loss curve that falls with training, deterministic per job."""
    jitter = int(hashlib.sha256(f"{job.id}:{step}".encode()).hexdigest()[:4], 16) / 65535
    return round(2.5 * math.exp(-4.0 * step / max(job.total_steps, 1)) + 0.05 + 0.05 * jitter, 4)


def add_event(
    job: Job, at: float, message: str, *, level: str = "info", data: dict[str, Any] | None = None
) -> None:
    """Append an event to the job's log."""
    job.events.append(
        Event(
            id=new_id("ftevent-", length=24),
            created_at=int(at),
            level=level,
            message=message,
            type="metrics" if data else "message",
            data=data,
        )
    )


def model_name(store: Store, job: Job) -> str:
    """``ft:<base>:<org>:<suffix>:<id>`` on OpenAI; ``<base>.ft-<id>[-suffix]`` on Azure."""
    if job.flavor == "azure":
        return f"{job.model}.{job.id.replace('ftjob-', 'ft-')}" + (
            f"-{job.suffix}" if job.suffix else ""
        )
    short = hashlib.sha256(job.id.encode()).hexdigest()[:8]
    return f"ft:{job.model}:{store.config.organization}:{job.suffix or ''}:{short}"


def _checkpoint_steps(job: Job) -> list[int]:
    epochs = int(job.hyperparameters["n_epochs"])
    per_epoch = max(job.total_steps // epochs, 1)
    steps = [per_epoch * e for e in range(1, epochs + 1)][-3:]
    return [s for s in steps if s <= job.total_steps]


def advance(store: Store, job: Job, now: float) -> None:
    """Bring ``job`` up to emulated time ``now``: change status, emit events, save
    checkpoints, finish it."""
    cfg = store.config
    if job.status in ("succeeded", "failed", "cancelled", "paused"):
        job.last_tick = now
        return
    job.progress += max(now - job.last_tick, 0.0)
    job.last_tick = now
    origin = now - job.progress  # emulated time at progress 0 (pauses excluded)
    start_run = cfg.validating_seconds + cfg.queued_seconds
    validated = job.status == "validating_files" and job.progress >= cfg.validating_seconds
    if validated and not _validated(store, job, origin + cfg.validating_seconds):
        return
    if job.status == "queued" and job.progress >= start_run:
        add_event(job, origin + start_run, "Fine-tuning job started")
        job.status = "running"
        job.estimated_finish = int(origin + start_run + job.total_steps * cfg.step_seconds)
    if job.status == "running":
        _train(store, job, origin + start_run)


def billed_seconds(store: Store, job: Job) -> float:
    """Emulated seconds ``job`` has spent training (``running``), as of its last
    :func:`advance`: its progress past validation and queue, up to its last step. Paused
    time is not progress, so it is not billed."""
    cfg = store.config
    started = job.progress - cfg.validating_seconds - cfg.queued_seconds
    return min(max(started, 0.0), job.total_steps * cfg.step_seconds)


def _validated(store: Store, job: Job, when: float) -> bool:
    """End validation: queue the job, or fail it as the service would."""
    minimum = store.config.min_examples
    failure = job.fail_error if job.fail_at_step == 0 else None
    if job.n_examples < minimum:
        failure = {
            "code": "invalid_training_file",
            "param": "training_file",
            "message": "The job failed due to an invalid training file. Training file has "
            f"{job.n_examples} example(s), but must have at least {minimum} examples",
        }
    if failure:
        add_event(job, when, failure["message"], level="error")
        finish(job, when, "failed", error=failure)
        return False
    add_event(job, when, "Files validated, moving job to queued state")
    job.status = "queued"
    return True


def _train(store: Store, job: Job, started: float) -> None:
    """Run the steps that emulated time has reached; finish the job after the last."""
    step_seconds = store.config.step_seconds
    reached = min(int((job.last_tick - started) / step_seconds), job.total_steps)
    checkpoints = _checkpoint_steps(job)
    while job.steps_done < reached:
        step = job.steps_done + 1
        when = started + step * step_seconds
        if job.fail_at_step is not None and step >= job.fail_at_step > 0:
            error = job.fail_error or {
                "code": "server_error",
                "param": None,
                "message": "The job failed due to an internal error.",
            }
            add_event(job, when, error["message"], level="error")
            finish(job, when, "failed", error=error)
            return
        metrics = _metrics(job, step)
        said = (
            f"reward={metrics['train_reward_mean']:.4f}"
            if "train_reward_mean" in metrics
            else f"training loss={metrics['train_loss']:.4f}"
        )
        add_event(job, when, f"Step {step}/{job.total_steps}: {said}", data=metrics)
        job.steps_done = step
        if step in checkpoints:
            name = f"{model_name(store, job)}:ckpt-step-{step}"
            ckpt_metrics = {k: v for k, v in metrics.items() if k != "total_steps"}
            job.checkpoints.append(
                Checkpoint(
                    id=new_id("ftckpt_"),
                    created_at=int(when),
                    model=name,
                    step=step,
                    metrics=ckpt_metrics,
                )
            )
            store.models[name] = {"job": job.id, "created": int(when), "checkpoint": True}
            add_event(job, when, f"Checkpoint created at step {step}")
    if job.steps_done >= job.total_steps:
        when = started + job.total_steps * step_seconds
        job.fine_tuned_model = model_name(store, job)
        store.models[job.fine_tuned_model] = {
            "job": job.id,
            "created": int(when),
            "checkpoint": False,
        }
        job.trained_tokens = job.n_tokens * int(job.hyperparameters["n_epochs"])
        add_event(job, when, f"New fine-tuned model created: {job.fine_tuned_model}")
        add_event(job, when, "The job has successfully completed")
        finish(job, when, "succeeded")


def _metrics(job: Job, step: int) -> dict[str, Any]:
    loss = _loss(job, step)
    if job.method.get("type") == "reinforcement":
        return _reward_metrics(job, step, loss)
    metrics: dict[str, Any] = {
        "step": step,
        "train_loss": loss,
        "train_mean_token_accuracy": round(1 - loss / 3, 4),
        "total_steps": job.total_steps,
    }
    if job.validation_file:
        metrics["valid_loss"] = round(loss * 1.1, 4)
        metrics["valid_mean_token_accuracy"] = round(1 - loss * 1.1 / 3, 4)
    return metrics


def _reward_metrics(job: Job, step: int, loss: float) -> dict[str, Any]:
    """A reinforcement step's metrics, as the service's ``metrics`` events carry them: the
    mean grader reward on the step's training samples (rising as training goes on), and
    on the validation samples every ``eval_interval`` steps."""
    reward = round(min(1.0, max(0.0, 1.0 - loss / 2.6)), 4)
    metrics: dict[str, Any] = {
        "step": step,
        "train_reward_mean": reward,
        "train_reasoning_tokens_mean": round(400 + 200 * loss, 1),
        "total_steps": job.total_steps,
    }
    interval = int(job.hyperparameters.get("eval_interval", 1))
    if job.validation_file and (step % interval == 0 or step == job.total_steps):
        metrics["valid_reward_mean"] = round(max(0.0, reward - 0.05), 4)
        metrics["valid_reasoning_tokens_mean"] = round(420 + 200 * loss, 1)
    return metrics


def finish(job: Job, when: float, status: str, *, error: dict[str, Any] | None = None) -> None:
    """End the job in ``status``."""
    job.status = status
    job.finished_at = int(when)
    job.error = error
    job.estimated_finish = None


def answer(store: Store, model: str, messages: list[dict[str, Any]]) -> str:
    """A deterministic reply: a fine-tuned model answers from its training data (the closest
    prompt it was trained on); a base model gives a generic answer."""
    prompt = next(
        (_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    entry = store.models.get(model)
    if entry is None:
        return (
            f"As a general-purpose assistant ({model}), I would need more context to "
            f"answer precisely. You asked: {prompt}"
        )
    job = store.jobs[entry["job"]]
    if job.answers is None:
        job.answers = examples_of(store.files[job.training_file].content)
    pairs = job.answers
    if not pairs:
        return ""
    words = set(prompt.lower().split())

    def overlap(pair: tuple[str, str]) -> float:
        other = set(pair[0].lower().split())
        return len(words & other) / max(len(words | other), 1)

    exact = [a for p, a in pairs if p.strip() == prompt.strip()]
    return exact[0] if exact else max(pairs, key=overlap)[1]
