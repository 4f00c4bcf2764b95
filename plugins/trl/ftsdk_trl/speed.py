"""How a TRL job runs fast: the settings a TRL expert picks, resolved per job and device.

Each setting is a provider option left unset (``None``) by default, and then chosen here
from the job and the device; a value given in ``provider_options`` always wins. The result,
a :class:`SpeedPlan`, says for each setting its value, whether it was the default or the
user's, and why; the runner records it in the job folder (``setup.json``) and its events.

=======================  =====================================================================
setting                  default
=======================  =====================================================================
padding_free             on for SFT with more than one example per device: a batch is one
                         row of its examples end to end, with position ids restarting at each
                         example, so no padding is computed and no example attends to another
packing                  off: packing fills rows of ``max_seq_length`` with as many examples
                         as fit, so ``batch_size`` would count rows, not examples
group_by_length          on for SFT when neither of the above is (less padding per batch)
bf16                     on a CUDA GPU that supports it, and on a CPU with bfloat16 matrix
                         units (AMX, AVX512-BF16) for models of hidden size 256 or more
                         (2-4x faster there; slower than float32 for smaller models)
attn_implementation      ``flash_attention_2`` on CUDA with flash-attn installed; else, for
                         padding-free batches, ``sdpa_varlen`` (SDPA once per example, see
                         :mod:`ftsdk_trl.varlen`); else ``sdpa``
liger                    Liger kernels on CUDA with liger-kernel installed
gradient_checkpointing   on when the memory estimate without it exceeds 85 % of the device's
torch_compile            off: compiling takes minutes and recompiles for new batch shapes
=======================  =====================================================================
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ftsdk.errors import InvalidRequest
from ftsdk.provider import ProviderOptions

__all__ = [
    "BF16_CPU_MIN_HIDDEN",
    "MEMORY_HEADROOM",
    "Choice",
    "Device",
    "MemoryNeed",
    "SpeedOptions",
    "SpeedPlan",
    "device_facts",
    "memory_need",
    "speed_plan",
]

BF16_CPU_MIN_HIDDEN = 256
"""Below this hidden size, bf16 on a CPU loses to float32: the matrices are too small for
its matrix units to pay for the casts (measured here: hidden 64 1.5x slower, 512 3x faster)."""
MEMORY_HEADROOM = 0.85
"""Gradient checkpointing turns on when the estimate is above this share of the memory:
the estimate is ±50 %, and the allocator and other processes need some room."""

AttnImplementation = Literal[
    "sdpa", "sdpa_varlen", "eager", "flash_attention_2", "flash_attention_3", "flex_attention"
]


class SpeedOptions(ProviderOptions):
    """The TRL provider options that choose how fast a job runs; unset ones are chosen
    per job and device (see :mod:`ftsdk_trl.speed`)."""

    packing: bool | None = None
    """Pack short examples into rows of ``max_seq_length`` (SFT; TRL's best-fit
    decreasing, each example kept whole and attending only to itself). ``batch_size`` then
    counts packed rows. Default off: padding-free batches save the padding without that."""
    padding_free: bool | None = None
    """Train each batch as one row of its examples end to end, without padding (SFT).
    Default: on when a device takes more than one example at once."""
    group_by_length: bool | None = None
    """Batch examples of similar length together (SFT). Default: on when neither
    ``padding_free`` nor ``packing`` is."""
    bf16: bool | None = None
    """Train in bfloat16 (mixed precision). Default: on a CUDA GPU that supports it, and on
    a CPU with bfloat16 matrix units for a model of hidden size 256 or more."""
    attn_implementation: AttnImplementation | None = None
    """The attention kernel. Default: ``flash_attention_2`` on CUDA when flash-attn is
    installed; else ``sdpa_varlen`` for padding-free batches (PyTorch's SDPA once per
    example, :mod:`ftsdk_trl.varlen`); else ``sdpa``."""
    liger: bool | None = None
    """Liger's fused Triton kernels (RMSNorm, RoPE, SwiGLU). Default: on CUDA when
    liger-kernel is installed."""
    gradient_checkpointing: bool | None = None
    """Recompute activations to save memory. Default: on when the memory estimate
    (:meth:`ftsdk.Dataset.estimate_training`) without it exceeds 85 % of the device's."""
    torch_compile: bool | None = None
    """Compile the model with ``torch.compile``: faster steps after minutes of compiling,
    and more compiling for each new batch shape."""


@dataclass(frozen=True)
class Device:
    """What the choices depend on in the machine: ``device_facts()`` reads it."""

    kind: Literal["cpu", "cuda"]
    name: str
    memory_bytes: int
    """GPU memory of one device, or the machine's RAM on a CPU."""
    bf16: bool
    """Whether bfloat16 runs at full speed: a CUDA GPU of compute capability 8 or more, a
    CPU with AMX or AVX512-BF16."""


def device_facts() -> Device:
    """The device a job here trains on: the first CUDA GPU, else the CPU."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return Device("cuda", props.name, int(props.total_memory), torch.cuda.is_bf16_supported())
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    bf16 = any(
        getattr(torch.cpu, probe, lambda: False)()
        for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    )
    return Device("cpu", "cpu", int(ram), bf16)


@dataclass(frozen=True)
class MemoryNeed:
    """Peak training memory from the estimate, without and with gradient checkpointing."""

    without_checkpointing: int
    with_checkpointing: int


def memory_need(
    model_path: str,
    train_file: str,
    method: dict[str, Any],
    *,
    per_device_batch_size: int,
    device: Device,
    bf16: bool,
) -> MemoryNeed:
    """The estimate's peak memory for this job on ``device``, both ways.

    The estimate counts bf16 tensors and a CUDA context. Weights, gradients and optimizer
    state take twice that in float32 (always on a CPU, where bf16 is autocast only);
    activations and logits too without bf16; a CPU has no CUDA context. The data's tokens
    are counted once.
    """
    from ftsdk import DPO, SFT, Dataset
    from ftsdk.dataset.estimate import estimate_training

    kind = DPO if method.get("type") == "dpo" else SFT
    fields = set(kind.model_fields) - {"type", "gradient_accumulation_steps"}
    given = {k: v for k, v in method.items() if k in fields and v not in (None, "auto")}
    given["batch_size"] = per_device_batch_size  # what one device holds at once
    first = Dataset.load(train_file).estimate_training(("trl", model_path), kind(**given))
    # the same estimate with checkpointing, from the tokens already counted
    second = estimate_training(
        first.model,
        tokens=first.tokens,
        longest=first.seq_length * (2 if first.method == "dpo" else 1),
        adapter=first.adapter,
        method=first.method,  # type: ignore[arg-type]
        batch_size=first.batch_size,
        max_seq_length=first.seq_length,
        epochs=first.epochs,
        lora_r=int(given.get("lora_r", 16)),
        gradient_checkpointing=True,
    )
    state_scale = 2 if not bf16 or device.kind == "cpu" else 1
    totals = []
    for memory in (first.memory, second.memory):
        state = memory.weights + memory.gradients + memory.optimizer
        totals.append(
            state * state_scale
            + (memory.activations + memory.logits) * (1 if bf16 else 2)
            + (memory.overhead if device.kind == "cuda" else 0)
        )
    return MemoryNeed(totals[0], totals[1])


@dataclass(frozen=True)
class Choice:
    """One resolved setting."""

    value: Any
    source: Literal["default", "option"]
    why: str

    def as_dict(self) -> dict[str, Any]:
        """The choice as recorded in ``setup.json``."""
        return {"value": self.value, "source": self.source, "why": self.why}


@dataclass(frozen=True)
class SpeedPlan:
    """Every speed setting of a job, resolved: ``plan["padding_free"].value``."""

    method: str
    device: Device
    choices: dict[str, Choice] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Choice:
        return self.choices[name]

    def value(self, name: str) -> Any:
        """The value chosen for setting ``name``."""
        return self.choices[name].value

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Each setting's value, source and reason (``setup.json``'s ``"speed"``)."""
        return {name: choice.as_dict() for name, choice in self.choices.items()}

    def summary(self) -> str:
        """One line for the job's events: ``padding_free=True, bf16=False (option), ...``."""
        return ", ".join(
            f"{name}={choice.value}" + (" (option)" if choice.source == "option" else "")
            for name, choice in self.choices.items()
        )

    def trainer_arguments(self) -> dict[str, Any]:
        """The plan as ``TrainingArguments`` (``SFTConfig``'s ``packing`` and
        ``padding_free`` are the ``packing`` and ``padding_free`` values)."""
        return {
            "bf16": self.value("bf16"),
            # transformers 5's name for gradient checkpointing (the old one warns)
            "activation_checkpointing": self.value("gradient_checkpointing"),
            "torch_compile": self.value("torch_compile"),
            "use_liger_kernel": self.value("liger"),
            "train_sampling_strategy": (
                "group_by_length" if self.value("group_by_length") else "random"
            ),
        }


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _bf16_default(device: Device, hidden_size: int | None) -> tuple[bool, str]:
    if device.kind == "cuda":
        on = device.bf16
        why = "computes in bfloat16 at full speed" if on else "has no fast bfloat16"
        return on, f"{device.name} {why}"
    if not device.bf16:
        return False, "this CPU has no bfloat16 matrix units: bfloat16 is ~4x slower than float32"
    if (hidden_size or 0) >= BF16_CPU_MIN_HIDDEN:
        return True, (
            f"this CPU has bfloat16 matrix units and the model (hidden {hidden_size}) is "
            "large enough for them to pay: 2-4x faster than float32"
        )
    return False, (
        f"float32 is faster on this CPU for a model of hidden size {hidden_size} "
        f"(bfloat16 pays from {BF16_CPU_MIN_HIDDEN})"
    )


def _attention_default(*, cuda: bool, flash: bool, free: bool) -> tuple[str, str]:
    hint = " (pip install flash-attn for FlashAttention 2)" if cuda else ""
    if flash:
        return "flash_attention_2", "FlashAttention 2 on CUDA in bf16: varlen kernels"
    if free:
        return "sdpa_varlen", (
            "PyTorch's SDPA once per example of the padding-free row, not over all of it" + hint
        )
    return "sdpa", "PyTorch's scaled-dot-product attention" + hint


def _check_liger(*, cuda: bool, installed: bool) -> None:
    why = (
        "Liger kernels are Triton kernels and need a CUDA GPU"
        if not cuda
        else "liger-kernel is not installed: pip install liger-kernel"
        if not installed
        else ""
    )
    if why:
        raise InvalidRequest(
            f"provider_options.liger: {why}", field="provider_options.liger", provider="trl"
        )


def _checkpointing_default(need: MemoryNeed, device: Device) -> tuple[bool, str]:
    on = need.without_checkpointing > MEMORY_HEADROOM * device.memory_bytes
    gib = 1024**3
    return on, (
        f"estimated peak {need.without_checkpointing / gib:.1f} GiB without it, "
        f"{need.with_checkpointing / gib:.1f} GiB with it, of "
        f"{device.memory_bytes / gib:.0f} GiB on {device.name} "
        + ("(over 85 %: on)" if on else "(fits: off, saving ~25 % of compute)")
    )


def speed_plan(
    options: dict[str, Any],
    *,
    method: str,
    device: Device,
    per_device_batch_size: int,
    hidden_size: int | None = None,
    memory: Callable[[bool], MemoryNeed] | None = None,
    installed: Callable[[str], bool] = _installed,
) -> SpeedPlan:
    """Resolve every speed setting for a job: the user's value where given, else the
    default for this job and device, each with its reason.

    :param options: the job's provider options (unset ones ``None`` or absent).
    :param method: ``"sft"``, ``"dpo"`` or ``"reinforcement"``.
    :param hidden_size: the model's (bf16 on a CPU pays only for large enough models).
    :param memory: the estimate for a bf16 flag (:func:`memory_need`); only called when
        ``gradient_checkpointing`` is left to the plan. When it raises ``InvalidRequest``
        (a model folder it cannot read), checkpointing stays off and the reason says why.
    :param installed: whether a module can be imported (for flash-attn and liger-kernel).
    :raises InvalidRequest: a setting that cannot work here (Liger on a CPU, or not
        installed; padding-free or length grouping for DPO), naming the option.
    """
    plan = SpeedPlan(method, device)
    choices = plan.choices
    cuda = device.kind == "cuda"

    def given(name: str) -> Any:
        return options.get(name)

    def choose(name: str, default: Any, why: str, *, override_why: str = "") -> None:
        if given(name) is not None:
            choices[name] = Choice(given(name), "option", override_why or "set in provider_options")
        else:
            choices[name] = Choice(default, "default", why)

    def refuse(name: str, why: str) -> None:
        raise InvalidRequest(
            f"provider_options.{name}: {why}", field=f"provider_options.{name}", provider="trl"
        )

    sft = method == "sft"
    choose(
        "packing",
        False,
        "off: batch_size stays examples per step; padding-free batches save the padding",
        override_why="set in provider_options (batch_size then counts packed rows)",
    )
    packing = bool(choices["packing"].value)
    if not sft and (packing or given("padding_free") or given("group_by_length")):
        name = (
            "packing" if packing else "padding_free" if given("padding_free") else "group_by_length"
        )
        refuse(
            name,
            f"is for SFT; TRL pads {method.upper() if method == 'dpo' else method} batches itself",
        )
    if not sft:
        why_free = (
            "DPO: TRL pads chosen and rejected sequences itself"
            if method == "dpo"
            else f"{method}: TRL pads prompts and generated answers itself"
        )
    elif packing:
        why_free = "packed rows are padding-free already (TRL's best-fit decreasing packing)"
    elif per_device_batch_size == 1:
        why_free = "one example per device at a time: there is no padding to save"
    else:
        why_free = "each batch is one row, position ids restart per example: no padding"
    choose("padding_free", sft and not packing and per_device_batch_size > 1, why_free)

    grouped_default = (
        sft and not packing and not choices["padding_free"].value and per_device_batch_size > 1
    )
    choose(
        "group_by_length",
        grouped_default,
        "examples of similar length share a batch: less padding"
        if grouped_default
        else "no padding to save (padding-free, packed or one example a batch)"
        if sft
        else "DPO: not supported by TRL's preference data"
        if method == "dpo"
        else f"{method}: TRL batches prompts and their answers itself",
    )

    choose("bf16", *_bf16_default(device, hidden_size))

    flash = cuda and installed("flash_attn") and bool(choices["bf16"].value)
    free = bool(choices["padding_free"].value or choices["packing"].value)
    choose("attn_implementation", *_attention_default(cuda=cuda, flash=flash, free=free))
    if str(given("attn_implementation")).startswith("flash") and not cuda:
        refuse("attn_implementation", f"{given('attn_implementation')} needs a CUDA GPU")

    if given("liger"):
        _check_liger(cuda=cuda, installed=installed("liger_kernel"))
    liger_ok = cuda and installed("liger_kernel")
    choose(
        "liger",
        liger_ok,
        "Liger's fused RMSNorm, RoPE and SwiGLU kernels"
        if liger_ok
        else "needs a CUDA GPU"
        if not cuda
        else "liger-kernel not installed",
    )

    if given("gradient_checkpointing") is not None or memory is None:
        choose("gradient_checkpointing", False, "no memory estimate for this job")
    else:
        try:
            need = memory(bool(choices["bf16"].value))
        except InvalidRequest as err:  # a model the estimate cannot read still trains
            choose("gradient_checkpointing", False, f"no memory estimate: {err}")
        else:
            choose("gradient_checkpointing", *_checkpointing_default(need, device))
    choose(
        "torch_compile",
        False,
        "compiling takes minutes, and again for each new batch shape",
    )
    return plan
