"""GPU memory and time of a local fine-tuning run, ESTIMATED (±50 %) from the model's shape
and the dataset's tokens. Nothing is loaded: the parameter count comes from the headers of
the model's ``*.safetensors`` files (or from ``config.json`` arithmetic), never its weights.

Memory, in bytes, for ``N`` parameters of which ``T`` are trained (``b`` examples per device
batch, ``s`` tokens in the longest of them, ``h`` hidden size, ``L`` layers, ``V`` vocab)::

    weights      full/LoRA: 2N (bf16)    QLoRA: 0.5625 Q + 2 (N - Q)   (Q: the 4-bit linears)
                 + 4T for LoRA adapters (PEFT keeps them in fp32)
    gradients    2T full (bf16), 4T LoRA (fp32)
    optimizer    AdamW m and v: 4T full (bf16), 8T LoRA (fp32)
    activations  k b s h L (bf16); with gradient checkpointing 2 b s h L + k b s h
                 k = 6 + 4 kv/heads (attention) + 4 (norms) + 2 + 8 I/h (gated MLP, I wide):
                 Korthikanti et al.'s 34 re-derived for Llama-like layers (41 for Llama 3 8B)
    logits       10 b s V  (bf16 logits, their fp32 copy and log-softmax)
    overhead     1 GiB (CUDA context, cuBLAS workspace, allocator slack)

Time::

    FLOPs   = k x N x tokens x epochs     k = 6 full, 4 LoRA/QLoRA, +2 with checkpointing,
                                          +2 for DPO's reference forward
    seconds = FLOPs / (the GPU's dense bf16 peak x MFU)          MFU = 0.35 unless given

Money, only with a rate the user gives (``gpu_hour_price`` or ``FTSDK_GPU_HOUR_PRICE``)::

    USD     = hours x GPUs x USD per GPU-hour                    GPUs = 1 (the estimate's)

The assumptions behind each figure are in ``docs/guide/data.md`` ("Estimating local
training"); the GPUs are data, in ``gpus.json``.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from ftsdk.dataset.tables import read_table
from ftsdk.errors import InvalidRequest

__all__ = [
    "Gpu",
    "GpuFit",
    "MemoryEstimate",
    "ModelShape",
    "TrainingEstimate",
    "estimate_training",
    "gpu_hour_price_from_env",
    "gpu_table",
    "read_model_shape",
]

Adapter = Literal["full", "lora", "qlora"]
GiB = 1024**3
ACCURACY = "±50 %"

BF16_BYTES = 2
FP32_BYTES = 4
NF4_BYTES = 0.5 + 4 / 64  # 4 bits + one fp32 absmax per block of 64 (no double quantization)
# Activation bytes per token, layer and hidden unit (Korthikanti et al. 2022, "Reducing
# Activation Recomputation in Large Transformer Models", eq. 1: 34 + 5as/h for GPT layers).
GPT_ACTIVATION_K = 34.0
LOGIT_BYTES = 10  # bf16 logits (2) + fp32 copy (4) + fp32 log-softmax (4) per token x vocab
OVERHEAD_BYTES = 1 * GiB
DEFAULT_MFU = 0.35
LOCAL_DEFAULTS: dict[str, int] = {
    "epochs": 3,
    "batch_size": 8,
    "max_seq_length": 1024,
    "lora_r": 16,
}
"""What unset hyperparameters become: the TRL plugin's defaults (``ftsdk_trl.training``)."""
GPUS_PER_RUN = 1
"""GPUs the estimate is for: one. With N GPUs (data parallel) the hours divide by about N and
the GPU-hours, so the money, stay about the same."""
GPU_HOUR_PRICE_ENV = "FTSDK_GPU_HOUR_PRICE"
NO_PRICE = (
    "no money figure: local training is paid by GPU time; give a rate in USD per GPU-hour "
    f"(gpu_hour_price=, --gpu-hour-price or {GPU_HOUR_PRICE_ENV}) for "
    "hours x GPUs x USD per GPU-hour"
)
"""What an estimate without a rate says instead of a money figure."""
MAX_HEADER_BYTES = 100 * 1024**2  # safetensors refuses larger headers too

# Tensors of these names are embeddings or the output head: not linear layers for LoRA's
# "all-linear" and not quantized to 4 bits.
_NOT_LINEAR = ("embed", "wte", "wpe", "lm_head", "embed_out", "output.weight")


@dataclass(frozen=True)
class Linear:
    """One linear layer of the model: its module name and shape."""

    name: str
    in_features: int
    out_features: int


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs of a model, read without loading it::

    shape = read_model_shape("/models/llama")
    shape.parameters, shape.lora_parameters(16)  # LoRA r=16 on all linear layers
    """

    path: str
    """The model folder."""
    parameters: int
    """Parameters, each counted once (tied embeddings once)."""
    source: Literal["safetensors", "config.json"]
    """Where :attr:`parameters` comes from: the weight files' headers, or the config."""
    hidden_size: int
    layers: int
    vocab_size: int
    linears: tuple[Linear, ...]
    """The linear layers LoRA's ``"all-linear"`` targets (every one but the output head)."""
    activation_k: float = GPT_ACTIVATION_K
    """Activation bytes kept per token, layer and hidden unit (see the module's formula)."""

    def targets(self, target_modules: str | Sequence[str] = "all-linear") -> list[Linear]:
        """The linear layers ``target_modules`` selects, as PEFT matches them: a list by the
        last parts of the module name (``"q_proj"``), a string as a regular expression over
        the whole name, ``"all-linear"`` every linear layer but the output head."""
        if target_modules == "all-linear":
            return list(self.linears)
        if isinstance(target_modules, str):
            pattern = re.compile(target_modules)
            return [linear for linear in self.linears if pattern.fullmatch(linear.name)]
        names = list(target_modules)
        return [
            linear
            for linear in self.linears
            if any(linear.name == n or linear.name.endswith(f".{n}") for n in names)
        ]

    def lora_parameters(self, r: int, target_modules: str | Sequence[str] = "all-linear") -> int:
        """Parameters a LoRA adapter of rank ``r`` adds: ``r x (in + out)`` per target."""
        return sum(r * (t.in_features + t.out_features) for t in self.targets(target_modules))

    @property
    def linear_parameters(self) -> int:
        """Weights of the linear layers (what QLoRA stores in 4 bits)."""
        return sum(t.in_features * t.out_features for t in self.linears)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "path": self.path,
            "parameters": self.parameters,
            "source": self.source,
            "hidden_size": self.hidden_size,
            "layers": self.layers,
            "vocab_size": self.vocab_size,
            "linear_layers": len(self.linears),
            "activation_k": round(self.activation_k, 2),
        }


def _model_folder(model: str | Path) -> Path:
    folder = Path(model).expanduser()
    if folder.is_dir():
        return folder
    if not folder.exists() and str(model).count("/") == 1:  # a Hub id: the local cache only
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(str(model), local_files_only=True))
        except Exception:  # not cached (or no huggingface_hub): said below
            pass
    raise InvalidRequest(
        f"{model}: not a model folder (nor a model in the local Hugging Face cache); the "
        "estimate reads its config.json and safetensors headers, nothing is downloaded",
        field="model",
    )


def safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a ``.safetensors`` file: the dtype and shape of every tensor.

    Reads 8 bytes (the header's length, little-endian) and the header; never the tensors.
    """
    try:
        with path.open("rb") as file:
            head = file.read(8)
            if len(head) < 8:
                raise InvalidRequest(f"{path}: not a safetensors file (too short)", field="model")
            (length,) = struct.unpack("<Q", head)
            size = path.stat().st_size
            if length > min(MAX_HEADER_BYTES, size - 8):
                raise InvalidRequest(
                    f"{path}: not a safetensors file (header of {length:,} bytes)", field="model"
                )
            header: Any = json.loads(file.read(length))
    except OSError as err:
        raise InvalidRequest(f"{path}: cannot read it ({err.strerror})", field="model") from err
    except ValueError as err:
        raise InvalidRequest(f"{path}: its safetensors header is not JSON", field="model") from err
    if not isinstance(header, dict):
        raise InvalidRequest(f"{path}: its safetensors header is not a table", field="model")
    return {name: spec for name, spec in header.items() if name != "__metadata__"}


def _weight_files(folder: Path) -> list[Path]:
    """The weight files of a model folder: the shards its index names, or model.safetensors
    (other ``*.safetensors`` may be adapters or duplicate consolidated copies)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            names = sorted(set(weight_map.values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise InvalidRequest(
                f"{index}: not a safetensors index ({err})", field="model"
            ) from err
        missing = [name for name in names if not (folder / name).is_file()]
        if missing:
            raise InvalidRequest(f"{index}: names missing shards {missing}", field="model")
        return [folder / name for name in names]
    single = folder / "model.safetensors"
    return [single] if single.is_file() else []


def _is_linear(name: str, shape: Sequence[int]) -> bool:
    return len(shape) == 2 and name.endswith(".weight") and not any(p in name for p in _NOT_LINEAR)


def _from_safetensors(files: Iterable[Path], *, tied: bool) -> tuple[int, tuple[Linear, ...]]:
    parameters = 0
    linears: list[Linear] = []
    for path in files:
        for name, spec in safetensors_header(path).items():
            if tied and name == "lm_head.weight":  # the embeddings again: torch counts it once
                continue
            shape = spec.get("shape") if isinstance(spec, dict) else None
            if not isinstance(shape, list) or not all(isinstance(n, int) for n in shape):
                raise InvalidRequest(f"{path}: tensor {name!r} has no shape", field="model")
            parameters += math.prod(shape)
            if _is_linear(name, shape):  # torch stores a Linear's weight as (out, in)
                linears.append(Linear(name.removesuffix(".weight"), shape[1], shape[0]))
    return parameters, tuple(sorted(linears, key=lambda t: t.name))


def _text_config(config: dict[str, Any]) -> dict[str, Any]:
    inner = config.get("text_config")
    return inner if isinstance(inner, dict) and "hidden_size" not in config else config


def _from_config(config: dict[str, Any], where: Path) -> tuple[int, tuple[Linear, ...]]:
    """Llama-like arithmetic: embeddings, attention with GQA, a gated MLP, RMS norms."""

    def need(key: str) -> int:
        value = config.get(key)
        if not isinstance(value, int) or value <= 0:
            raise InvalidRequest(
                f"{where}: no {key} (the config.json fallback knows Llama-like models; "
                "save the model with safetensors for an exact count)",
                field="model",
            )
        return value

    hidden, layers, vocab = need("hidden_size"), need("num_hidden_layers"), need("vocab_size")
    heads, mlp = need("num_attention_heads"), need("intermediate_size")
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or hidden // heads
    q, kv = heads * head_dim, kv_heads * head_dim
    per_layer = [
        ("self_attn.q_proj", hidden, q),
        ("self_attn.k_proj", hidden, kv),
        ("self_attn.v_proj", hidden, kv),
        ("self_attn.o_proj", q, hidden),
        ("mlp.gate_proj", hidden, mlp),
        ("mlp.up_proj", hidden, mlp),
        ("mlp.down_proj", mlp, hidden),
    ]
    linears = tuple(
        Linear(f"model.layers.{i}.{name}", n_in, n_out)
        for i in range(layers)
        for name, n_in, n_out in per_layer
    )
    # Qwen2 has q/k/v biases without saying so in its config.
    bias = q + 2 * kv if config.get("attention_bias") or config.get("model_type") == "qwen2" else 0
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings", True) else 2)
    norms = (2 * layers + 1) * hidden
    parameters = embeddings + sum(t.in_features * t.out_features for t in linears)
    return parameters + layers * bias + norms, linears


def read_model_shape(model: str | Path) -> ModelShape:
    """The parameter count and shape of the model in folder ``model``, without loading it.

    The count is exact from ``model.safetensors`` (or the shards its index names) and
    Llama-like arithmetic on ``config.json`` otherwise (also for quantized checkpoints,
    whose packed tensors do not count parameters).

    :raises ftsdk.errors.InvalidRequest: not a model folder, no readable ``config.json``, a
        broken safetensors file; the message names the path.
    """
    folder = _model_folder(model)
    config_path = folder / "config.json"
    try:
        full_config: Any = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise InvalidRequest(
            f"{folder}: no config.json (not a Hugging Face model folder)", field="model"
        ) from err
    except (OSError, ValueError) as err:
        raise InvalidRequest(f"{config_path}: not readable JSON ({err})", field="model") from err
    if not isinstance(full_config, dict):
        raise InvalidRequest(f"{config_path}: not a JSON object", field="model")
    config = _text_config(full_config)
    files = [] if "quantization_config" in full_config else _weight_files(folder)
    if files:
        parameters, linears = _from_safetensors(
            files, tied=bool(config.get("tie_word_embeddings", True))
        )
        source: Literal["safetensors", "config.json"] = "safetensors"
    else:
        parameters, linears = _from_config(config, config_path)
        source = "config.json"
    hidden, layers, vocab = (
        config.get(k) for k in ("hidden_size", "num_hidden_layers", "vocab_size")
    )
    if not all(isinstance(v, int) and v > 0 for v in (hidden, layers, vocab)):
        raise InvalidRequest(
            f"{config_path}: needs hidden_size, num_hidden_layers and vocab_size", field="model"
        )
    return ModelShape(
        str(folder),
        parameters,
        source,
        hidden,  # type: ignore[arg-type]
        layers,  # type: ignore[arg-type]
        vocab,  # type: ignore[arg-type]
        linears,
        _activation_k(config, linears),
    )


def _activation_k(config: dict[str, Any], linears: Sequence[Linear]) -> float:
    """Korthikanti et al.'s 34 bytes per token x layer x hidden, for this layer's shape.

    Theirs (GPT, 16-bit): attention 11 (QKV input 2, Q and K 4, V 2, projection input 2,
    dropout mask 1) + 5as/h (scores, softmax, dropout), MLP 19 (input 2, GeLU input 8,
    second input 8, mask 1), norms 4. Here: no dropout masks (Llama-like models train without
    dropout) and no score term (PyTorch's SDPA / FlashAttention do not keep the scores); K
    and V at their GQA width; the MLP keeps its input (2) and, gated, 4 tensors I wide
    (gate, up, activation, product: 8 I/h), ungated 2 (4 I/h).
    """
    hidden, heads, mlp = (
        config.get(k) for k in ("hidden_size", "num_attention_heads", "intermediate_size")
    )
    if not all(isinstance(v, int) and v > 0 for v in (hidden, heads, mlp)):
        return GPT_ACTIVATION_K
    kv_heads = config.get("num_key_value_heads") or heads
    gated = any("gate" in linear.name or linear.name.endswith(".w3") for linear in linears)
    attention = 6 + 4 * kv_heads / heads  # type: ignore[operator]
    return attention + 4 + 2 + (8 if gated else 4) * mlp / hidden  # type: ignore[operator]


@dataclass(frozen=True)
class Gpu:
    """A GPU of the table (``gpus.json``): memory and dense bf16 peak, as published."""

    name: str
    memory_gib: float
    bf16_tflops: float
    source: str


@cache
def gpu_table() -> tuple[Gpu, ...]:
    """The GPUs estimates are shown for, from ``gpus.json``."""
    return tuple(Gpu(**entry) for entry in read_table("gpus.json")["gpus"])


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak GPU memory of training, in bytes, by part (an estimate, ±50 %)."""

    weights: int
    gradients: int
    optimizer: int
    activations: int
    logits: int
    overhead: int

    @property
    def total(self) -> int:
        """All parts together."""
        return sum(self.parts().values())

    def parts(self) -> dict[str, int]:
        """Each part's bytes, in order."""
        return {
            "weights": self.weights,
            "gradients": self.gradients,
            "optimizer": self.optimizer,
            "activations": self.activations,
            "logits": self.logits,
            "overhead": self.overhead,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view, in GiB."""
        return {name: round(value / GiB, 3) for name, value in self.parts().items()} | {
            "total": round(self.total / GiB, 3),
            "unit": "GiB",
        }


@dataclass(frozen=True)
class GpuFit:
    """Whether the run fits one GPU, and roughly how long it takes there."""

    gpu: Gpu
    fits: bool
    """Whether the estimated peak memory is within the GPU's memory."""
    seconds: float
    """Training time at the estimate's MFU."""
    gpu_hour_price: float | None = None
    """The rate the user gave, USD per GPU-hour; ``None``: no money figure."""

    @property
    def hours(self) -> float:
        """:attr:`seconds` in hours."""
        return self.seconds / 3600

    @property
    def gpu_hours(self) -> float:
        """GPU-hours billed: :attr:`hours` x the estimate's GPUs (one)."""
        return self.hours * GPUS_PER_RUN

    @property
    def cost(self) -> float | None:
        """USD: GPU-hours x GPUs x :attr:`gpu_hour_price`; ``None`` without a rate (never 0
        for "unknown")."""
        if self.gpu_hour_price is None:
            return None
        return self.gpu_hours * self.gpu_hour_price

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        cost = self.cost
        return {
            "name": self.gpu.name,
            "memory_gib": self.gpu.memory_gib,
            "bf16_tflops": self.gpu.bf16_tflops,
            "fits": self.fits,
            "seconds": round(self.seconds, 1),
            "gpu_hours": self.gpu_hours,
            "cost_usd": cost,
        }


@dataclass(frozen=True)
class TrainingEstimate:
    """GPU memory and time of one local training run: an ESTIMATE (±50 %), not a measure."""

    model: ModelShape
    method: str
    adapter: Adapter
    trainable_parameters: int
    batch_size: int
    seq_length: int
    """Tokens per sequence that sizes the activations: the longest example, cut at
    ``max_seq_length``."""
    gradient_checkpointing: bool
    tokens: int
    """Tokens trained per epoch (each example cut at ``max_seq_length``)."""
    epochs: int
    memory: MemoryEstimate
    flops_per_token: int
    mfu: float
    gpus: tuple[GpuFit, ...]
    gpu_hour_price: float | None = None
    """USD per GPU-hour, as the user gave it; ``None``: no money figure (see :attr:`cost_basis`)."""

    @property
    def flops(self) -> float:
        """Training FLOPs: FLOPs per token x tokens x epochs."""
        return float(self.flops_per_token) * self.tokens * self.epochs

    @property
    def cost_basis(self) -> str:
        """What the money figure is made of, or why there is none and how to get one::

        "hours x 1 GPU x $2.50 per GPU-hour (the rate given; the estimate is for one GPU)"
        """
        if self.gpu_hour_price is None:
            return NO_PRICE
        return (
            f"hours x {GPUS_PER_RUN} GPU x ${self.gpu_hour_price:,.2f} per GPU-hour "
            "(the rate given; the estimate is for one GPU)"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "estimate": ACCURACY,
            "model": self.model.to_dict(),
            "method": self.method,
            "adapter": self.adapter,
            "trainable_parameters": self.trainable_parameters,
            "batch_size": self.batch_size,
            "seq_length": self.seq_length,
            "gradient_checkpointing": self.gradient_checkpointing,
            "tokens": self.tokens,
            "epochs": self.epochs,
            "memory": self.memory.to_dict(),
            "flops": self.flops,
            "mfu": self.mfu,
            "gpus": [fit.to_dict() for fit in self.gpus],
            "cost": {
                "gpu_hour_price": self.gpu_hour_price,
                "gpus_per_run": GPUS_PER_RUN,
                "currency": "USD",
                "basis": self.cost_basis,
            },
        }


def _memory(
    shape: ModelShape,
    *,
    adapter: Adapter,
    trainable: int,
    method: str,
    sequences: int,
    seq_length: int,
    gradient_checkpointing: bool,
) -> MemoryEstimate:
    n = shape.parameters
    if adapter == "full":
        weights = BF16_BYTES * n
        gradients, optimizer = BF16_BYTES * trainable, 2 * BF16_BYTES * trainable
        if method == "dpo":  # an explicit frozen reference copy of the model
            weights *= 2
    else:
        frozen = (
            BF16_BYTES * n
            if adapter == "lora"
            else round(NF4_BYTES * shape.linear_parameters)
            + BF16_BYTES * (n - shape.linear_parameters)
        )
        weights = frozen + FP32_BYTES * trainable
        gradients, optimizer = FP32_BYTES * trainable, 2 * FP32_BYTES * trainable
    tokens = sequences * seq_length
    per_layer = round(shape.activation_k * tokens * shape.hidden_size)
    if gradient_checkpointing:  # each layer's input kept; one layer recomputed at a time
        activations = BF16_BYTES * tokens * shape.hidden_size * shape.layers + per_layer
    else:
        activations = per_layer * shape.layers
    return MemoryEstimate(
        weights=weights,
        gradients=gradients,
        optimizer=optimizer,
        activations=activations,
        logits=LOGIT_BYTES * tokens * shape.vocab_size,
        overhead=OVERHEAD_BYTES,
    )


def estimate_training(
    model: str | Path | ModelShape,
    *,
    tokens: int,
    longest: int,
    adapter: Adapter = "full",
    method: Literal["sft", "dpo"] = "sft",
    batch_size: int = 8,
    max_seq_length: int = 1024,
    epochs: int = 3,
    lora_r: int = 16,
    lora_target_modules: str | Sequence[str] = "all-linear",
    gradient_checkpointing: bool = False,
    mfu: float = DEFAULT_MFU,
    gpus: Sequence[Gpu] | None = None,
    gpu_hour_price: float | None = None,
) -> TrainingEstimate:
    """Estimate the GPU memory and time of training ``model`` on ``tokens`` tokens.

    Usually called through :meth:`ftsdk.Dataset.estimate_training`, which counts the tokens.

    :param model: a model folder (or its :class:`ModelShape`).
    :param tokens: tokens per epoch, each example already cut at ``max_seq_length`` (for
        DPO, at twice that: an example is two sequences).
    :param longest: tokens of the longest example (sizes the activations of a batch).
    :param adapter: ``"full"``, ``"lora"`` or ``"qlora"``.
    :param method: ``"sft"`` or ``"dpo"`` (a chosen and a rejected sequence per example).
    :param batch_size: examples per device per step (gradient accumulation adds no memory).
    :param mfu: the fraction of the GPU's peak a run achieves (0.35: a typical figure).
    :param gpu_hour_price: USD per GPU-hour, for a money figure on each GPU (GPU-hours x
        GPUs x rate); unset, ``FTSDK_GPU_HOUR_PRICE`` if set, else no money figure.
    :raises ftsdk.errors.InvalidRequest: a bad model folder or argument.
    """
    if adapter not in ("full", "lora", "qlora"):
        raise InvalidRequest(f"adapter {adapter!r}: use full, lora or qlora", field="adapter")
    for name, value in (("batch_size", batch_size), ("max_seq_length", max_seq_length),
                        ("epochs", epochs), ("lora_r", lora_r)):  # fmt: skip
        if value < 1:
            raise InvalidRequest(f"{name} must be 1 or more, not {value}", field=name)
    if not 0 < mfu <= 1:
        raise InvalidRequest(f"mfu must be in (0, 1], not {mfu}", field="mfu")
    rate = gpu_hour_price_from_env() if gpu_hour_price is None else gpu_hour_price
    if rate is not None and not (math.isfinite(rate) and rate >= 0):
        raise InvalidRequest(
            f"gpu_hour_price must be USD per GPU-hour, 0 or more, not {rate}",
            field="gpu_hour_price",
        )
    shape = model if isinstance(model, ModelShape) else read_model_shape(model)
    if adapter == "full":
        trainable = shape.parameters
    else:
        trainable = shape.lora_parameters(lora_r, lora_target_modules)
        if trainable == 0:
            raise InvalidRequest(
                f"lora_target_modules {lora_target_modules!r} match no linear layer of "
                f"{shape.path}",
                field="lora_target_modules",
            )
    # A preference example's tokens are its prompt with each answer: two sequences.
    per_sequence = math.ceil(longest / 2) if method == "dpo" else longest
    seq_length = max(1, min(per_sequence, max_seq_length))
    memory = _memory(
        shape,
        adapter=adapter,
        trainable=trainable,
        method=method,
        sequences=batch_size * (2 if method == "dpo" else 1),
        seq_length=seq_length,
        gradient_checkpointing=gradient_checkpointing,
    )
    k = (6 if adapter == "full" else 4) + (2 if gradient_checkpointing else 0)
    k += 2 if method == "dpo" else 0
    flops = float(k) * shape.parameters * tokens * epochs
    fits = tuple(
        GpuFit(
            gpu,
            memory.total <= gpu.memory_gib * GiB,
            flops / (gpu.bf16_tflops * 1e12 * mfu),
            rate,
        )
        for gpu in (gpu_table() if gpus is None else gpus)
    )
    return TrainingEstimate(
        model=shape,
        method=method,
        adapter=adapter,
        trainable_parameters=trainable,
        batch_size=batch_size,
        seq_length=seq_length,
        gradient_checkpointing=gradient_checkpointing,
        tokens=tokens,
        epochs=epochs,
        memory=memory,
        flops_per_token=k * shape.parameters,
        mfu=mfu,
        gpus=fits,
        gpu_hour_price=rate,
    )


def gpu_hour_price_from_env() -> float | None:
    """The rate in ``FTSDK_GPU_HOUR_PRICE`` (USD per GPU-hour), or ``None`` when unset.

    :raises ftsdk.errors.InvalidRequest: set to something that is not a number.
    """
    raw = os.environ.get(GPU_HOUR_PRICE_ENV, "").strip()
    if not raw:
        return None
    try:
        return float(raw.removeprefix("$"))
    except ValueError:
        raise InvalidRequest(
            f"{GPU_HOUR_PRICE_ENV} must be USD per GPU-hour (say 2.50), not {raw!r}",
            field="gpu_hour_price",
        ) from None
