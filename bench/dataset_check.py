"""Speed and memory of `ftsdk data check`, against the OpenAI cookbook's checks.

1. Generates a chat file of N examples (default 100,000; recipe-like, ~0.9 KB each).
2. Times, in fresh interpreters, one after the other on the same file:
   - `ftsdk data check FILE --provider openai --model gpt-4o-mini-2024-07-18 --json`
     (format and role checks, o200k token counts, duplicates, limits, cost), as installed:
     counting with toktok-rs where it is, and again with FTSDK_TOKEN_COUNTER=tiktoken (shown,
     and its stats must equal the first run's);
   - a faithful re-implementation of the cookbook notebook `Chat_finetuning_data_prep`
     (load every line with json.loads, its format checks, num_tokens_from_messages and
     num_assistant_tokens_from_messages with tiktoken cl100k_base, numpy distributions,
     the epochs and billing estimate). tiktoken reads its encoding files from a cache
     filled from bpe-openai's identical copies, so nothing is downloaded (ftsdk builds
     its o200k_base from the same copy).
3. Peak RSS of `ftsdk data check` on a ~1 GB file (default; --rss-gb 0 skips it), read
   with resource.getrusage(RUSAGE_CHILDREN) in a wrapper process.

Each side runs --repeat times (default 3), alternating, and keeps its best wall time.

Run: .venv/bin/python bench/dataset_check.py [--examples N] [--rss-gb G] [--dir DIR] [--repeat R]
The last line is the figure: ratio=<ftsdk/cookbook examples per second> vs openai cookbook checks.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.metadata
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = [
    "flour",
    "sugar",
    "butter",
    "eggs",
    "milk",
    "salt",
    "pepper",
    "garlic",
    "onion",
    "tomato",
    "basil",
    "olive",
    "oil",
    "bake",
    "simmer",
    "stir",
    "whisk",
    "chop",
    "slice",
    "minutes",
    "until",
    "golden",
    "serve",
    "warm",
    "with",
    "fresh",
    "herbs",
    "and",
    "a",
    "pinch",
    "of",
    "cinnamon",
    "preheat",
    "the",
    "oven",
    "to",
    "180C",
    "350F",
    "cups",
    "tablespoons",
    "teaspoons",
    "grams",
]

COOKBOOK = r"""
import json, sys, time
from collections import defaultdict
import numpy as np
import tiktoken

start = time.perf_counter()
data_path = sys.argv[1]
with open(data_path, "r", encoding="utf-8") as f:
    dataset = [json.loads(line) for line in f]

format_errors = defaultdict(int)
for ex in dataset:
    if not isinstance(ex, dict):
        format_errors["data_type"] += 1
        continue
    messages = ex.get("messages", None)
    if not messages:
        format_errors["missing_messages_list"] += 1
        continue
    for message in messages:
        if "role" not in message or "content" not in message:
            format_errors["message_missing_key"] += 1
        if any(k not in ("role", "content", "name", "function_call", "weight") for k in message):
            format_errors["message_unrecognized_key"] += 1
        if message.get("role", None) not in ("system", "user", "assistant", "function"):
            format_errors["unrecognized_role"] += 1
        content = message.get("content", None)
        function_call = message.get("function_call", None)
        if (not content and not function_call) or not isinstance(content, str):
            format_errors["missing_content"] += 1
    if not any(message.get("role", None) == "assistant" for message in messages):
        format_errors["example_missing_assistant_message"] += 1

encoding = tiktoken.get_encoding("cl100k_base")

def num_tokens_from_messages(messages, tokens_per_message=3, tokens_per_name=1):
    num_tokens = 0
    for message in messages:
        num_tokens += tokens_per_message
        for key, value in message.items():
            num_tokens += len(encoding.encode(value))
            if key == "name":
                num_tokens += tokens_per_name
    num_tokens += 3
    return num_tokens

def num_assistant_tokens_from_messages(messages):
    num_tokens = 0
    for message in messages:
        if message["role"] == "assistant":
            num_tokens += len(encoding.encode(message["content"]))
    return num_tokens

def distribution(values):
    return (min(values), max(values), np.mean(values), np.median(values),
            np.quantile(values, 0.1), np.quantile(values, 0.9))

n_missing_system = n_missing_user = 0
n_messages, convo_lens, assistant_message_lens = [], [], []
for ex in dataset:
    messages = ex["messages"]
    if not any(message["role"] == "system" for message in messages):
        n_missing_system += 1
    if not any(message["role"] == "user" for message in messages):
        n_missing_user += 1
    n_messages.append(len(messages))
    convo_lens.append(num_tokens_from_messages(messages))
    assistant_message_lens.append(num_assistant_tokens_from_messages(messages))
stats = [distribution(v) for v in (n_messages, convo_lens, assistant_message_lens)]
n_too_long = sum(l > 16385 for l in convo_lens)

MAX_TOKENS_PER_EXAMPLE = 16385
TARGET_EPOCHS, MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES = 3, 100, 25000
MIN_DEFAULT_EPOCHS, MAX_DEFAULT_EPOCHS = 1, 25
n_epochs = TARGET_EPOCHS
n_train_examples = len(dataset)
if n_train_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
    n_epochs = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_train_examples)
elif n_train_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
    n_epochs = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_train_examples)
n_billing = sum(min(MAX_TOKENS_PER_EXAMPLE, length) for length in convo_lens)
print(json.dumps({"examples": len(dataset), "errors": dict(format_errors),
                  "tokens": sum(convo_lens), "billed": n_epochs * n_billing,
                  "seconds": time.perf_counter() - start}))
"""

RSS_WRAPPER = r"""
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=False)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # KiB on Linux
"""


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def example(rng: random.Random, i: int) -> dict[str, object]:
    return {
        "messages": [
            {"role": "system", "content": "You are a helpful recipe assistant."},
            {"role": "user", "content": f"Recipe #{i}: what do I need for {sentence(rng, 6)}?"},
            {"role": "assistant", "content": f"For recipe #{i}: {sentence(rng, 130)}."},
        ]
    }


def generate(path: Path, *, examples: int | None = None, size: int | None = None) -> int:
    """Write chat examples until ``examples`` are written or the file reaches ``size`` bytes."""
    rng = random.Random(0)
    written = total = 0
    with path.open("w", encoding="utf-8") as stream:
        while (examples is None or written < examples) and (size is None or total < size):
            line = json.dumps(example(rng, written)) + "\n"
            stream.write(line)
            total += len(line)
            written += 1
    return written


def tiktoken_cache(folder: Path) -> Path:
    """tiktoken's cache, filled from bpe-openai's byte-identical encoding files."""
    bundle = importlib.metadata.distribution("bpe-openai")
    for name in ("cl100k_base", "o200k_base"):
        url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
        packed = Path(str(bundle.locate_file(f"bpe_openai/data/{name}.tiktoken.gz")))
        (folder / hashlib.sha1(url.encode()).hexdigest()).write_bytes(
            gzip.decompress(packed.read_bytes())
        )
    return folder


def ftsdk_command(path: Path) -> list[str]:
    code = "import sys; from ftsdk.cli import main; sys.argv[0] = 'ftsdk'; main()"
    return [sys.executable, "-c", code, "data", "check", str(path), "--provider", "openai",
            "--model", "gpt-4o-mini-2024-07-18", "--json"]  # fmt: skip


def counter() -> str:
    """What counts OpenAI tokens in ftsdk here: toktok-rs where installed, else tiktoken."""
    from ftsdk.dataset.tokens import OpenAITokenCounter

    return OpenAITokenCounter("o200k_base").backend


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and stdout of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command[:3]} failed:\n{done.stderr[-2000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--rss-gb", type=float, default=1.0, help="0 skips the RSS run")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the files")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="ftsdk-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tiktoken_cache(folder))}

    load = os.getloadavg()
    data = folder / "chat.jsonl"
    n = generate(data, examples=args.examples)
    size_mb = data.stat().st_size / 1e6
    print(f"file: {n:,} chat examples, {size_mb:.1f} MB ({data})")

    # Runs alternate, and each side keeps its best run: on a shared machine the other
    # processes slow whichever runs beside them (ftsdk uses every core, the cookbook one).
    # The third series counts with tiktoken alone (FTSDK_TOKEN_COUNTER=tiktoken): the figure
    # where toktok-rs has no wheel, and a check that both count the same 19M tokens.
    tiktoken_env = {**env, "FTSDK_TOKEN_COUNTER": "tiktoken"}
    ours, theirs, reference = [], [], []
    for _ in range(args.repeat):
        ours_s, ours_cpu, out = timed(ftsdk_command(data), env)
        ours.append((ours_s, ours_cpu))
        cookbook_s, cookbook_cpu, cookbook_out = timed(
            [sys.executable, "-c", COOKBOOK, str(data)], env
        )
        theirs.append((cookbook_s, cookbook_cpu))
        slow_s, slow_cpu, slow_out = timed(ftsdk_command(data), tiktoken_env)
        reference.append((slow_s, slow_cpu))
    report, cookbook = json.loads(out), json.loads(cookbook_out)
    assert report["ok"], report["error_counts"]
    assert report["stats"] == json.loads(slow_out)["stats"], "toktok-rs and tiktoken differ"
    assert cookbook["examples"] == n, cookbook
    assert not cookbook["errors"], cookbook
    ours_s, ours_cpu = min(ours)
    cookbook_s, cookbook_cpu = min(theirs)
    slow_s, slow_cpu = min(reference)
    runs = ", ".join(f"{wall:.2f}" for wall, _ in ours)
    print(f"ftsdk data check:       {ours_s:6.2f} s  {n / ours_s:9,.0f} examples/s  "
          f"(CPU {ours_cpu:.2f} s; {report['stats']['total']:,} o200k tokens by {counter()}, "
          f"all checks, whole process; best of {runs})")  # fmt: skip
    runs = ", ".join(f"{wall:.2f}" for wall, _ in reference)
    print(f"  with tiktoken alone:  {slow_s:6.2f} s  {n / slow_s:9,.0f} examples/s  "
          f"(CPU {slow_cpu:.2f} s; the same counts; best of {runs}; "
          f"ratio {cookbook_s / slow_s:.2f})")  # fmt: skip
    runs = ", ".join(f"{wall:.2f}" for wall, _ in theirs)
    print(f"openai cookbook checks: {cookbook_s:6.2f} s  {n / cookbook_s:9,.0f} examples/s  "
          f"(CPU {cookbook_cpu:.2f} s; {cookbook['tokens']:,} cl100k tokens, whole process; "
          f"best of {runs})")  # fmt: skip
    print(f"cores: {os.cpu_count()}, load average before the runs: {load[0]:.2f}")

    if args.rss_gb > 0:
        big = folder / "big.jsonl"
        rows = generate(big, size=int(args.rss_gb * 1e9))
        wrapper = [sys.executable, "-c", RSS_WRAPPER, *ftsdk_command(big)]
        start = time.perf_counter()
        peak_kib = int(subprocess.run(wrapper, capture_output=True, text=True, env=env,
                                      check=True).stdout.strip())  # fmt: skip
        seconds = time.perf_counter() - start
        print(f"peak RSS of ftsdk data check on {big.stat().st_size / 1e9:.2f} GB "
              f"({rows:,} examples): {peak_kib / 1024:.0f} MiB in {seconds:.1f} s")  # fmt: skip
        big.unlink()
    print(f"ratio={cookbook_s / ours_s:.2f} vs openai cookbook checks")


if __name__ == "__main__":
    main()
