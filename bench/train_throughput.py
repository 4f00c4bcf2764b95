"""Training throughput at a realistic shape: ftsdk's TRL defaults versus a plain TRL script.

The same random-init Llama-style model (~31 M parameters on the CPU size: hidden 512, 8
layers, GQA 8/4 heads, vocab 8,192, tied; or a ~0.5 B Qwen2-0.5B shape with ``--size 0.5b``
for a GPU), built offline with a BPE tokenizer trained on the spot, and the same chat data:
conversational prompt/completion pairs whose lengths are long-tailed like real chat data
(log-normal, median ~140 tokens, cut to 20-1,000). Both train with the same learning rate,
batch (8 examples a step), steps, seed and data order; every other setting is each side's
default:

- plain TRL: ``SFTTrainer`` with ``SFTConfig`` at TRL's defaults (bf16 mixed precision,
  gradient checkpointing on, batches padded to their longest example);
- ftsdk: the trainer an ftsdk TRL job builds (``ftsdk_trl.training.build_trainer``) with
  its defaults, resolved for this model and machine (``ftsdk_trl.speed``): padding-free
  batches, bf16 where the hardware has it, gradient checkpointing only when the memory
  estimate says so, FlashAttention and Liger on CUDA when installed.

Both train ``--steps`` steps (the same learning-rate schedule) and evaluate every 4; the
target is the higher of their final eval losses, a loss both reached, and each side's time
to it is its training time up to its first eval at or below it. Each run is a fresh process
with pinned threads; the time counted is training steps only (evaluations excluded).
Printed: time to the target loss, tokens/s (real tokens, no padding), peak memory
(RSS on a CPU, ``torch.cuda.max_memory_allocated`` on a GPU) beside the memory estimate, and
the step time beside the estimate's (FLOPs at 35 % of this device's measured matmul peak).

Run: ``nice .venv/bin/python bench/train_throughput.py [--threads 1] [--steps 20]``
(~10-15 minutes on a shared 2-core CPU). The last line is the figure:
``ratio=<tokens/s at equal loss, ftsdk / plain TRL> vs plain TRL``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES: dict[str, dict[str, int]] = {
    # ~31 M parameters: the smallest shape whose matmuls behave like a real model's
    "cpu": {"hidden": 512, "layers": 8, "heads": 8, "kv_heads": 4, "mlp": 1664, "vocab": 8192},
    # Qwen2-0.5B's shape (its 151,936-token vocabulary included): ~0.49 B parameters
    "0.5b": {"hidden": 896, "layers": 24, "heads": 14, "kv_heads": 2, "mlp": 4864, "vocab": 151936},
}
LEARNING_RATE = 1e-3  # both sides; at the 2e-5 default a random-init model barely moves
BATCH = 8
EVAL_EVERY = 4
TRAIN_EXAMPLES, EVAL_EXAMPLES = 400, 16
MFU = 0.35

# -- data and model, built offline --------------------------------------------------------


def _words(rng: random.Random, count: int) -> list[str]:
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    found: dict[str, None] = {}
    while len(found) < count:
        found["".join(rng.choices(syllables, k=rng.choice((1, 2, 2, 3))))] = None
    return list(found)


def chat_rows(count: int, *, seed: int) -> list[dict[str, Any]]:
    """Conversational prompt/completion pairs of long-tailed length on 16 topics, each a
    Zipf distribution over 3,000 made-up words: loss falls fast from log(vocab), as a real
    model's does on its first steps."""
    rng = random.Random(seed)
    words = _words(random.Random(0), 3000)
    ranks = [1 / (r + 1) for r in range(len(words))]
    topics = [random.Random(t).sample(words, len(words)) for t in range(16)]
    rows = []
    for _ in range(count):
        tokens = min(1000, max(20, round(rng.lognormvariate(math.log(140), 0.85))))
        vocab = topics[rng.randrange(16)]
        n = max(4, round((tokens - 12) / 1.3))  # ~1.3 tokens per word, ~12 of template
        text = rng.choices(vocab, weights=ranks, k=n)
        cut = max(2, n // 4)
        rows.append(
            {
                "prompt": [{"role": "user", "content": " ".join(text[:cut])}],
                "completion": [{"role": "assistant", "content": " ".join(text[cut:])}],
            }
        )
    return rows


def build_model(directory: Path, size: str, corpus: list[dict[str, Any]]) -> Path:
    """A random-init Llama of ``SIZES[size]`` and a BPE tokenizer trained on ``corpus``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from ftsdk_trl.tiny import CHAT_TEMPLATE, SPECIALS

    shape = SIZES[size]
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    texts = [m["content"] for row in corpus for m in row["prompt"] + row["completion"]]
    core.train_from_iterator(
        [*texts, "user", "assistant", "system"],
        trainer=trainers.BpeTrainer(
            vocab_size=min(shape["vocab"], 8192),
            special_tokens=SPECIALS,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=core, pad_token="<|pad|>", eos_token="<|im_end|>", model_max_length=2048
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=shape["vocab"],
        hidden_size=shape["hidden"],
        intermediate_size=shape["mlp"],
        num_hidden_layers=shape["layers"],
        num_attention_heads=shape["heads"],
        num_key_value_heads=shape["kv_heads"],
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


# -- one side, in its own process ---------------------------------------------------------


def _timer(times: list[float], evals: list[tuple[int, float]]) -> Any:
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        """Times the training steps only (not evaluations) and records eval losses."""

        started = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            times.append(time.perf_counter() - self.started)

        def on_evaluate(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            loss = float(kw["metrics"]["eval_loss"])
            evals.append((state.global_step, loss))

    return Timer()


def _matmul_peak(dtype: Any, device: str) -> float:
    """This device's matmul FLOP/s in ``dtype`` (the step-time estimate's peak)."""
    import torch

    n = 2048 if device == "cuda" else 1024
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    (a @ b).sum().item()
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < 1.0:
        (a @ b).sum().item()
        runs += 1
    return 2 * n**3 * runs / (time.perf_counter() - started)


def _peak_memory(device: str) -> int:
    import resource

    import torch

    if device == "cuda":
        return int(torch.cuda.max_memory_allocated())
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def child(side: str, work: Path, steps: int, threads: int) -> None:
    """Train one side and write its figures to ``work/<side>.json``."""
    import torch

    torch.set_num_threads(threads)
    from datasets import Dataset  # type: ignore[import-untyped]
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from ftsdk.dataset.estimate import estimate_training, read_model_shape
    from ftsdk_trl.speed import memory_need
    from ftsdk_trl.training import build_trainer, device_kind, load_rows, plan_speed

    device = device_kind()
    model_path, train, valid = work / "model", work / "train.jsonl", work / "valid.jsonl"
    times: list[float] = []
    evals: list[tuple[int, float]] = []
    timer = _timer(times, evals)
    method = {"type": "sft", "batch_size": BATCH, "learning_rate": LEARNING_RATE}
    method["max_steps"] = steps
    speed = plan_speed(model_path=str(model_path), method=method, train_file=train)
    if side == "ftsdk":
        trainer = build_trainer(
            model_path=str(model_path),
            method=method,
            train_file=train,
            validation_file=valid,
            output_dir=work / "out-ftsdk",
            options={"eval_steps": EVAL_EVERY, "logging_steps": 1, "save_steps": 10**9},
            callbacks=[timer],
            speed=speed,
        )
    else:
        config = SFTConfig(  # TRL's defaults but for what both sides share
            output_dir=str(work / "out-plain"),
            max_steps=steps,
            per_device_train_batch_size=BATCH,
            learning_rate=LEARNING_RATE,
            seed=0,
            eval_strategy="steps",
            eval_steps=EVAL_EVERY,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=device == "cpu",  # without it TRL's bf16 default refuses a CPU
        )
        trainer = SFTTrainer(
            model=AutoModelForCausalLM.from_pretrained(model_path),
            args=config,
            train_dataset=Dataset.from_list(load_rows(train)),
            eval_dataset=Dataset.from_list(load_rows(valid)),
            processing_class=AutoTokenizer.from_pretrained(model_path),
            callbacks=[timer],
        )
    args = trainer.args
    bf16, checkpointing = bool(args.bf16), bool(args.gradient_checkpointing)
    # what the model and data took before the first step: RSS on a CPU, allocated on a GPU
    before = torch.cuda.memory_allocated() if device == "cuda" else _peak_memory("cpu")
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    peak_flops = _matmul_peak(torch.bfloat16 if bf16 else torch.float32, device)
    trainer.train()
    peak = _peak_memory(device)
    tokens = {
        row["step"]: row["num_tokens"] for row in trainer.state.log_history if "num_tokens" in row
    }
    lengths = [len(ids) for ids in trainer.train_dataset["input_ids"]]
    shape = read_model_shape(model_path)
    flops_per_token = estimate_training(
        shape, tokens=1, longest=1, gradient_checkpointing=checkpointing
    ).flops_per_token
    need = memory_need(
        str(model_path),
        str(train),
        method,
        per_device_batch_size=BATCH,
        device=speed.device,
        bf16=bf16,
    )
    result = {
        "side": side,
        "device": speed.device.name,
        "device_kind": device,
        "parameters": shape.parameters,
        "bf16": bf16,
        "gradient_checkpointing": checkpointing,
        "padding_free": bool(getattr(args, "padding_free", False)),
        "attn_implementation": trainer.model.config._attn_implementation,
        "step_seconds": times,
        "evals": evals,
        "tokens": tokens,
        "peak_memory": peak,
        "memory_before_training": before,
        "estimate_memory": need.with_checkpointing if checkpointing else need.without_checkpointing,
        "flops_per_token": flops_per_token,
        "peak_flops": peak_flops,
        "lengths": lengths,
    }
    (work / f"{side}.json").write_text(json.dumps(result), encoding="utf-8")


# -- the comparison -----------------------------------------------------------------------


def run_side(side: str, work: Path, steps: int, threads: int) -> dict[str, Any]:
    """Train one side in a fresh process; its figures."""
    command = [sys.executable, __file__, "--child", side, "--work", str(work)]
    command += ["--steps", str(steps), "--threads", str(threads)]
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")
    env["OMP_NUM_THREADS"] = str(threads)
    subprocess.run(command, check=True, env=env)
    result: dict[str, Any] = json.loads((work / f"{side}.json").read_text(encoding="utf-8"))
    return result


def to_target(result: dict[str, Any], target: float) -> tuple[int, float, float]:
    """(step, training seconds, real tokens) when the eval loss first reached ``target``."""
    step = next((s for s, loss in result["evals"] if loss <= target + 1e-9), None)
    if step is None:
        raise SystemExit(
            f"{result['side']} never reached eval loss {target:.4f}: {result['evals']}"
        )
    seconds = sum(result["step_seconds"][:step])
    return step, seconds, float(result["tokens"][str(step)])


def _gib(n: float) -> str:
    return f"{n / 1024**3:.2f} GiB"


def report(plain: dict[str, Any], ftsdk: dict[str, Any], target: float, threads: int) -> None:
    lengths = sorted(plain["lengths"])
    pick = lambda q: lengths[min(len(lengths) - 1, int(q * len(lengths)))]  # noqa: E731
    print(
        f"model: {plain['parameters'] / 1e6:.1f} M parameters, random init; "
        f"device: {plain['device']}"
        + (f", {threads} thread(s) of {os.cpu_count()}" if plain["device_kind"] == "cpu" else "")
    )
    print(
        f"data: {len(lengths)} chats, tokens min {lengths[0]} / median {pick(0.5)} / "
        f"mean {sum(lengths) / len(lengths):.0f} / p90 {pick(0.9)} / max {lengths[-1]}; "
        f"batch {BATCH}, lr {LEARNING_RATE}, eval every {EVAL_EVERY} steps"
    )
    finals = plain["evals"][-1][1], ftsdk["evals"][-1][1]
    print(
        f"target: eval loss {target:.4f}, the higher of the two after "
        f"{len(plain['step_seconds'])} steps (plain TRL {finals[0]:.4f}, ftsdk {finals[1]:.4f})"
    )
    rates = {}
    for name, result in (("plain TRL", plain), ("ftsdk", ftsdk)):
        step, seconds, tokens = to_target(result, target)
        rates[name] = tokens / seconds
        steps = result["step_seconds"][:step]
        mean_step = sum(steps) / len(steps)
        per_step_tokens = tokens / step
        computed = per_step_tokens if result["padding_free"] else None
        settings = (
            f"bf16={result['bf16']}, gradient_checkpointing={result['gradient_checkpointing']}, "
            f"padding_free={result['padding_free']}, attention={result['attn_implementation']}"
        )
        print(f"{name}: {settings}")
        print(
            f"  reached it at step {step} after {seconds:.1f} s of training: "
            f"{rates[name]:,.0f} tokens/s; mean step {mean_step:.2f} s"
        )
        flops = result["flops_per_token"] * (computed or _padded_tokens(result, step))
        estimate_step = flops / (result["peak_flops"] * MFU)
        print(
            f"  step time: estimate {estimate_step:.2f} s (FLOPs at {MFU:.0%} of the measured "
            f"{result['peak_flops'] / 1e12:.2f} TFLOP/s matmul peak), measured {mean_step:.2f} s"
        )
        kind = "GPU, allocated" if result["device_kind"] == "cuda" else "RSS"
        print(
            f"  peak memory ({kind}): {_gib(result['peak_memory'])} measured "
            f"({_gib(result['memory_before_training'])} before training); estimate "
            f"{_gib(result['estimate_memory'])} for the training tensors"
        )
    plain_time, ftsdk_time = to_target(plain, target)[1], to_target(ftsdk, target)[1]
    print(f"time to target: plain TRL {plain_time:.1f} s, ftsdk {ftsdk_time:.1f} s "
          f"({plain_time / ftsdk_time:.2f}x)")  # fmt: skip
    print(f"ratio={rates['ftsdk'] / rates['plain TRL']:.2f} vs plain TRL")


def _padded_tokens(result: dict[str, Any], step: int) -> float:
    """Tokens a padded batch computes, on average: 8 x the longest of each 8 in order
    (an estimate: the sampler's order is not recorded)."""
    lengths = result["lengths"]
    batches = [lengths[i : i + BATCH] for i in range(0, len(lengths) - BATCH + 1, BATCH)]
    return sum(len(b) * max(b) for b in batches) / len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="plain TRL's steps (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--size", choices=sorted(SIZES), default="cpu")
    parser.add_argument("--work", type=Path, help="keep the model, data and figures here")
    parser.add_argument("--child", choices=("ftsdk", "plain"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.child, options.work, options.steps, options.threads)
        return
    from ftsdk.testing.data import write_jsonl

    with tempfile.TemporaryDirectory(prefix="ftsdk-throughput-") as tmp:
        work = options.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        train_rows = chat_rows(TRAIN_EXAMPLES, seed=1)
        write_jsonl(work / "train.jsonl", train_rows)
        write_jsonl(work / "valid.jsonl", chat_rows(EVAL_EXAMPLES, seed=2))
        build_model(work / "model", options.size, train_rows)
        plain = run_side("plain", work, options.steps, options.threads)
        ftsdk = run_side("ftsdk", work, options.steps, options.threads)
        target = max(plain["evals"][-1][1], ftsdk["evals"][-1][1])
        report(plain, ftsdk, target, options.threads)


if __name__ == "__main__":
    main()
