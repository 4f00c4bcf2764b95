#!/usr/bin/env bash
# The GPU figures of issue 20, in one run on a CUDA machine: ftsdk's TRL defaults versus a
# plain TRL script on a ~0.5 B (Qwen2-0.5B-shaped) random-init model at bf16, QLoRA's
# measured memory beside its estimate, and 2-GPU DDP when there are two GPUs.
#
#   bench/gpu_check.sh            # figures to $OUT/gpu_check.txt, else bench/gpu_check.txt
#
# It uses the python that has a CUDA torch: $PYTHON, else .venv/bin/python, else python3.
# ftsdk and the TRL plugin are installed into it when missing (editable, from this tree),
# and flash-attn, liger-kernel and bitsandbytes where a wheel installs: without them the
# run says so and goes on with the fallbacks (sdpa_varlen, no Liger, no QLoRA figure).
# Nothing is downloaded at run time beyond those packages: models and data are built here.
set -uo pipefail
cd "$(dirname "$0")/.."
out_dir=${OUT:-bench}
mkdir -p "$out_dir"
figures="$out_dir/gpu_check.txt"
python=${PYTHON:-}
for candidate in "$python" .venv/bin/python python3; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
        python=$candidate
        break
    fi
done
if [ -z "$python" ] || ! "$python" -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    echo "gpu_check: no python with a CUDA torch (set PYTHON=...); nothing measured" | tee "$figures"
    exit 1
fi
pip=("$python" -m pip --disable-pip-version-check --quiet)
say() { echo "$*" | tee -a "$figures"; }
: >"$figures"
say "# gpu_check $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | sed 's/^/gpu: /' | tee -a "$figures"
"$python" -c 'import torch; print(f"torch {torch.__version__}, CUDA {torch.version.cuda}")' | tee -a "$figures"

# ftsdk and the plugin (the rest of their dependencies come with them)
if ! "$python" -c 'import ftsdk_trl' 2>/dev/null; then
    "${pip[@]}" install -e . -e plugins/trl || { say "gpu_check: could not install ftsdk"; exit 1; }
fi
for package in liger-kernel bitsandbytes; do
    "${pip[@]}" install "$package" 2>/dev/null || say "note: $package did not install"
done
# flash-attn builds from source unless a wheel matches this torch: give it 10 minutes at most
timeout 600 "${pip[@]}" install flash-attn --no-build-isolation 2>/dev/null \
    || say "note: flash-attn did not install (attention falls back to sdpa_varlen)"
"$python" - <<'EOF' | tee -a "$figures"
import importlib.util
for module in ("flash_attn", "liger_kernel", "bitsandbytes"):
    print(f"{module}: {'installed' if importlib.util.find_spec(module) else 'missing'}")
EOF

work=$(mktemp -d /tmp/ftsdk-gpu-check-XXXXXX)
trap 'rm -rf "$work"' EXIT

say ""
say "## ftsdk defaults vs plain TRL SFTTrainer (TRL's defaults), ~0.5 B, bf16, 20 steps x 8"
"$python" bench/train_throughput.py --size 0.5b --steps 20 --threads 8 --work "$work/sft" \
    2>"$work/sft.log" | grep -v '^{' | tee -a "$figures" \
    || { say "failed: see below"; tail -20 "$work/sft.log" | tee -a "$figures"; }

say ""
say "## QLoRA on the same model: measured peak GPU memory vs the estimate"
"$python" - "$work/sft" 2>"$work/qlora.log" <<'EOF' | tee -a "$figures" || tail -20 "$work/qlora.log" | tee -a "$figures"
import importlib.util, sys
from pathlib import Path

import torch

if importlib.util.find_spec("bitsandbytes") is None:
    sys.exit(print("skipped: bitsandbytes is not installed") or 0)
from ftsdk import SFT, Dataset
from ftsdk_trl.training import build_trainer

work = Path(sys.argv[1])
method = {"type": "sft", "adapter": "qlora", "batch_size": 8, "max_steps": 10}
trainer = build_trainer(
    model_path=str(work / "model"), method=method, train_file=work / "train.jsonl",
    output_dir=work / "qlora", options={"save_steps": 10**9, "logging_steps": 5},
)
torch.cuda.reset_peak_memory_stats()
result = trainer.train()
peak = torch.cuda.max_memory_allocated() / 2**30
estimate = Dataset.load(work / "train.jsonl").estimate_training(
    ("trl", str(work / "model")), SFT(adapter="qlora", batch_size=8)
)
print(f"QLoRA, 10 steps x 8: peak {peak:.2f} GiB measured (torch.cuda.max_memory_allocated), "
      f"estimate {estimate.memory.total / 2**30:.2f} GiB; "
      f"{result.metrics['train_runtime'] / 10:.2f} s/step")
EOF

gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
say ""
if [ "$gpus" -ge 2 ]; then
    say "## DDP: the same ftsdk job on 1 and on 2 GPUs (accelerate launch), 40 steps x 16"
    "$python" - "$work/sft" 2>"$work/ddp.log" <<'EOF' | tee -a "$figures" || tail -20 "$work/ddp.log" | tee -a "$figures"
import json, sys
from pathlib import Path

import ftsdk

work = Path(sys.argv[1])
rates = {}
for processes in (1, 2):
    home = work / f"home{processes}"
    client = ftsdk.client("trl", home=str(home))
    job = client.train(
        base_model=str(work / "model"), training_data=work / "train.jsonl",
        method=ftsdk.SFT(max_steps=40, batch_size=16, learning_rate=1e-4),
        provider_options={"num_processes": processes, "save_steps": 10**6},
    ).wait(poll_interval=2, progress=False)
    status = json.loads((home / "trl" / "jobs" / job.id / "status.json").read_text())
    rates[processes] = status["trained_tokens"] / status["train_runtime"]
    print(f"{processes} GPU(s): {job.state.status.value}, {rates[processes]:,.0f} tokens/s")
print(f"DDP scaling 2 vs 1 GPU: {rates[2] / rates[1]:.2f}x")
EOF
else
    say "## DDP: skipped, one GPU visible"
fi
say ""
say "figures written to $figures"
