"""Reinforcement fine-tuning on TRL: ``GRPOTrainer`` rewarded by an :mod:`ftsdk.graders` grader.

The job's grader (its services' JSON, in ``spec.json``) is rebuilt with
:func:`ftsdk.graders.parse_grader` and becomes one TRL reward function: each generated answer
is scored with the row's item fields as ``item``, the whole batch in one
:meth:`~ftsdk.graders.Grader.run_many` call (a Python grader then runs once per batch, in a
child process with its time limit). So the reward on this machine is the reward the services'
``graders/run`` gives for the same answer.

A row is a prompt (``messages`` ending with a user turn) plus the fields its grader reads::

    {"messages": [{"role": "user", "content": "Which month is 03?"}], "answer": "March"}

``batch_size`` counts prompts per optimizer step, as the services count examples; each prompt
is answered ``num_generations`` times (a provider option), so TRL's per-device batch holds
``per_device_batch_size x num_generations`` answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ftsdk.graders import Grader, parse_grader

__all__ = [
    "DEFAULT_MAX_COMPLETION_LENGTH",
    "DEFAULT_NUM_GENERATIONS",
    "build_grpo_trainer",
    "grpo_rows",
    "reward_function",
    "use_vllm",
]

DEFAULT_NUM_GENERATIONS = 8
"""Answers per prompt when ``num_generations`` is not set (TRL's default)."""

DEFAULT_MAX_COMPLETION_LENGTH = 256
"""Longest generated answer, in tokens, when ``max_completion_length`` is not set."""

_NOT_ITEM = frozenset({"prompt", "completion", "completion_ids", "trainer_state"})
"""What TRL passes a reward function beside the row's columns."""


def reward_function(grader: Grader) -> Callable[..., list[float | None]]:
    """A TRL reward function that scores each completion with ``grader``.

    TRL calls it with the prompts, the completions (conversational: a list with one
    assistant message each) and every other dataset column as a list, one value per
    completion: those columns, and the prompt as ``messages``, are the ``item`` each answer
    is graded against (the row as written, as the services grade it). Sub-rewards
    (a :class:`~ftsdk.graders.Multi`'s graders) and the share of answers whose grading
    failed go to the trainer's logs through TRL's ``log_metric``.
    """

    def reward(
        prompts: Sequence[Any], completions: Sequence[Any], **columns: Any
    ) -> list[float | None]:
        log_metric: Callable[[str, float], None] | None = columns.pop("log_metric", None)
        columns.pop("log_extra", None)
        fields = {k: v for k, v in columns.items() if k not in _NOT_ITEM}
        # the item is the row as written, its prompt back under "messages", as the services
        # hand the whole JSONL line to the grader
        items = [
            {"messages": prompts[n], **{k: values[n] for k, values in fields.items()}}
            for n in range(len(completions))
        ]
        results = grader.run_many([_text(c) for c in completions], items=items)
        if log_metric is not None:
            sub: dict[str, list[float]] = {}
            for result in results:
                for name, value in result.sub_rewards.items():
                    sub.setdefault(name, []).append(value)
            for name, values in sub.items():
                log_metric(f"rewards/{grader.name}/{name}", sum(values) / len(values))
            failed = sum(not result.ok for result in results)
            log_metric(f"rewards/{grader.name}/errors", failed / max(len(results), 1))
        rewards: list[float | None] = [
            r.reward if math.isfinite(r.reward) else 0.0 for r in results
        ]
        return rewards

    # TRL names the reward's metrics (rewards/<name>/mean) after the function
    reward.__name__ = grader.name
    return reward


def _text(completion: Any) -> str:
    """The answer's text: a plain string, or the content of its assistant messages."""
    if isinstance(completion, str):
        return completion
    return "".join(str(m.get("content") or "") for m in completion if isinstance(m, Mapping))


def grpo_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows as ``GRPOTrainer`` takes them: the conversation as ``prompt``, the item fields
    kept as columns (TRL hands them to the reward function).

    >>> grpo_rows([{"messages": [{"role": "user", "content": "hi"}], "answer": "yes"}])
    [{'answer': 'yes', 'prompt': [{'role': 'user', 'content': 'hi'}]}]
    """
    shaped = []
    for row in rows:
        fields = {k: v for k, v in row.items() if k != "messages"}
        shaped.append({**fields, "prompt": list(row["messages"])})
    return shaped


def use_vllm(option: bool | None, *, device: str) -> bool:
    """Whether to generate with vLLM (colocated on the training GPU): as the option says,
    or by default when on CUDA with ``vllm`` installed.

    >>> use_vllm(None, device="cpu")
    False

    :raises ValueError: asked for, on a CPU or without vLLM installed.
    """
    import importlib.util

    installed = importlib.util.find_spec("vllm") is not None
    if option is None:
        return device == "cuda" and installed
    if option and (device != "cuda" or not installed):
        raise ValueError(
            "provider_options.vllm: vLLM generation needs a CUDA GPU and pip install vllm "
            f"({'no CUDA GPU is visible' if device != 'cuda' else 'vllm is not installed'}); "
            "leave it unset to generate with transformers"
        )
    return bool(option)


def build_grpo_trainer(
    *,
    model: Any,
    tokenizer: Any,
    grader_json: Mapping[str, Any],
    method: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    eval_rows: Sequence[Mapping[str, Any]] | None,
    common: dict[str, Any],
    per_device_prompts: int,
    options: Mapping[str, Any],
    device: str,
    peft_config: Any,
    callbacks: list[Any] | None,
) -> Any:
    """A ``GRPOTrainer`` for the job.

    :param common: the ``TrainingArguments`` every method shares (built by
        :func:`ftsdk_trl.training.build_trainer`); their batch sizes count prompts and are
        scaled here by ``num_generations``.
    :param method: the job's ``RFT`` fields (``eval_interval``, ``eval_samples``).
    :param per_device_prompts: prompts one device takes per micro-batch.
    """
    from datasets import Dataset  # type: ignore[import-untyped]
    from trl.trainer.grpo_config import GRPOConfig
    from trl.trainer.grpo_trainer import GRPOTrainer

    grader = parse_grader(dict(grader_json))
    generations = int(options.get("num_generations") or DEFAULT_NUM_GENERATIONS)
    answers = per_device_prompts * generations
    vllm = use_vllm(options.get("vllm"), device=device)
    # GRPO has no max_length: max_completion_length bounds the answers, prompts are whole
    shared = {k: v for k, v in common.items() if k != "max_length"}
    # every step's reward by default: a step is mostly generation, its log row costs ~nothing,
    # and reinforcement runs are short in steps
    shared["logging_steps"] = options.get("logging_steps") or 1
    if eval_rows:  # as the services: every eval_interval steps (or eval_steps), else per epoch
        interval = method.get("eval_interval")
        if interval in (None, "auto"):
            interval = options.get("eval_steps")
        if interval is None:
            shared |= {"eval_strategy": "epoch"}
        else:
            shared |= {"eval_strategy": "steps", "eval_steps": interval}
    samples = method.get("eval_samples")
    config = GRPOConfig(
        **(
            shared | {"per_device_train_batch_size": answers, "per_device_eval_batch_size": answers}
        ),
        num_generations=generations,
        # the services' eval_samples: answers sampled per validation prompt
        num_generations_eval=None if samples in (None, "auto") else int(samples),
        max_completion_length=int(
            options.get("max_completion_length") or DEFAULT_MAX_COMPLETION_LENGTH
        ),
        temperature=float(options.get("temperature") or 1.0),
        use_vllm=vllm,
        vllm_mode="colocate",
    )
    tokenizer.padding_side = "left"  # GRPO generates after the prompt
    return GRPOTrainer(
        model=model,
        reward_funcs=[reward_function(grader)],
        args=config,
        train_dataset=Dataset.from_list(grpo_rows(rows)),
        eval_dataset=Dataset.from_list(grpo_rows(eval_rows)) if eval_rows else None,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )
