"""Training throughput of an ftsdk TRL job versus a plain TRL ``SFTTrainer`` script.

Same tiny model (built offline), same 1,000 dates-to-words examples, same steps, batch,
learning rate, seed and one CPU thread; the two alternate, each in a fresh process, and the
median tokens/s (TRL's ``num_tokens`` over the trainer's ``train_runtime``) are compared.
The ftsdk job pays for what makes it a job: a metrics row and event every step, status
writes, the pause check, and a checkpoint every 10 % of the run. The plain script runs with
the same CPU-safe settings (bf16 off, no gradient checkpointing), not TRL's defaults, so the
ratio is the overhead, not the pitfalls. Run: .venv/bin/python bench/train_overhead.py [N]
The last line is the figure: ratio=<ftsdk/plain> vs plain TRL SFTTrainer.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

STEPS = 200
BATCH = 16
LR = 3e-3

PLAIN = """
import json, sys, torch
torch.set_num_threads(1)
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer
model_path, train, out, steps, batch, lr = sys.argv[1:7]
rows = [json.loads(line) for line in open(train, encoding="utf-8")]
config = SFTConfig(
    output_dir=out, max_steps=int(steps), per_device_train_batch_size=int(batch),
    learning_rate=float(lr), seed=0, bf16=False, use_cpu=True, gradient_checkpointing=False,
    assistant_only_loss=True, save_strategy="no", report_to="none", disable_tqdm=True,
)
trainer = SFTTrainer(
    model=AutoModelForCausalLM.from_pretrained(model_path), args=config,
    train_dataset=Dataset.from_list(rows),
    processing_class=AutoTokenizer.from_pretrained(model_path),
)
result = trainer.train()
tokens = max(r["num_tokens"] for r in trainer.state.log_history if "num_tokens" in r)
print(json.dumps({"tokens": tokens, "runtime": result.metrics["train_runtime"]}))
"""


def plain(model: Path, train: Path, work: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PLAIN, str(model), str(train), str(work / "plain")]
        + [str(v) for v in (STEPS, BATCH, LR)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["tokens"]) / float(result["runtime"])


def job(model: Path, train: Path, home: Path) -> float:
    import ftsdk
    from ftsdk_trl.jobdir import JobDir

    client = ftsdk.client("trl", home=str(home))
    run = client.train(
        base_model=str(model),
        training_data=train,
        method=ftsdk.SFT(max_steps=STEPS, batch_size=BATCH, learning_rate=LR),
        seed=0,
        provider_options={"num_threads": 1},
    )
    run.wait(poll_interval=0.5, max_poll_interval=1.0, progress=False)
    status = JobDir(home / "trl" / "jobs" / run.id).read_status()
    return float(status["trained_tokens"]) / float(status["train_runtime"])


def main() -> None:
    from ftsdk.testing.data import date_to_words_examples, write_jsonl
    from ftsdk_trl import tiny

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory(prefix="ftsdk-bench-") as tmp:
        work = Path(tmp)
        model = tiny.build(work / "tiny", seed=0)
        train = write_jsonl(work / "train.jsonl", date_to_words_examples(1000, seed=0))
        rates: dict[str, list[float]] = {"ftsdk": [], "plain": []}
        for number in range(rounds):
            rates["plain"].append(plain(model, train, work))
            rates["ftsdk"].append(job(model, train, work / f"home{number}"))
            print(
                f"round {number + 1}: plain {rates['plain'][-1]:,.0f} tok/s, "
                f"ftsdk job {rates['ftsdk'][-1]:,.0f} tok/s",
                flush=True,
            )
    ftsdk_rate, plain_rate = statistics.median(rates["ftsdk"]), statistics.median(rates["plain"])
    print(f"device: cpu, 1 thread of {os.cpu_count()}; {STEPS} steps x batch {BATCH}, tiny Llama")
    print(f"plain TRL SFTTrainer: median {plain_rate:,.0f} tokens/s over {rounds} runs")
    print(f"ftsdk TRL job:        median {ftsdk_rate:,.0f} tokens/s over {rounds} runs")
    print(f"ratio={ftsdk_rate / plain_rate:.3f} vs plain TRL SFTTrainer")


if __name__ == "__main__":
    main()
