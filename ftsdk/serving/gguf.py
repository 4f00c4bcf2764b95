"""GGUF export for llama.cpp and Ollama, with llama.cpp's own converters.

The converters (``convert_hf_to_gguf.py``, ``convert_lora_to_gguf.py`` and their
``gguf-py``) are the ones vendored in the ``llama-cpp-python`` sdist the llama.cpp engine
is built from (:mod:`ftsdk.serving.engines`), so a GGUF written here is one that engine
reads: PyPI's ``gguf`` package lags the vendored script and fails against it. They run
in ftsdk's own interpreter (they need torch and transformers, which a local fine-tune has).

A full or merged model becomes one GGUF; a LoRA adapter becomes its base's GGUF plus an
adapter GGUF. An Ollama ``Modelfile`` (``FROM`` the model, ``ADAPTER`` the adapter) is
written beside them::

    ftsdk models export ./merged --format gguf --output ./out
    ollama create my-finetune -f ./out/Modelfile
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ftsdk.errors import FtsdkError, InvalidRequest
from ftsdk.runtimes import Progress

if TYPE_CHECKING:
    from ftsdk.models import AsyncModel, Model

__all__ = [
    "QUANTIZATIONS",
    "Exported",
    "UnsupportedArchitecture",
    "export",
    "export_model",
    "model_folders",
]

QUANTIZATIONS = ("f32", "f16", "bf16", "q8_0")
"""What the converters write themselves (no llama.cpp binary needed)."""
SMOLLM_PRE_TOKENIZER = {
    "type": "Sequence",
    "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    ],
}
"""SmolLM's pre-tokenizer (single digits, then GPT-2's pattern), which llama.cpp calls
``smollm``; ftsdk's tiny model has it too, but the converters know tokenizers by a hash of
their output on a test string, and the tiny vocabulary's hash is its own."""
CONVERT_TIMEOUT_S = 3600.0

# Runs a converter with three fixes: the vendored gguf-py comes first on the path; a
# tokenizer whose pre-tokenizer hash is unknown can be named (ftsdk's tiny model splits
# digits, then GPT-2's pattern: llama.cpp's "smollm"); and the chat template loses TRL's
# {% generation %} markers, which mark trained tokens, mean nothing when answering and
# which the Jinja of llama.cpp's servers cannot parse.
_SHIM = """
import re, runpy, sys
converters, script, pre = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path[:0] = [converters, converters + "/gguf-py"]
sys.argv = [script, *sys.argv[4:]]
import gguf
add_chat_template = gguf.GGUFWriter.add_chat_template
def without_markers(self, value):
    if isinstance(value, str):
        value = re.sub(r"{%-?\\s*(end)?generation\\s*-?%}", "", value)
    return add_chat_template(self, value)
gguf.GGUFWriter.add_chat_template = without_markers
if pre:
    from conversion import base
    known = base.TextModel.get_vocab_base_pre
    def get_vocab_base_pre(self, tokenizer):
        try:
            return known(self, tokenizer)
        except NotImplementedError:
            return pre
    base.TextModel.get_vocab_base_pre = get_vocab_base_pre
runpy.run_path(converters + "/" + script, run_name="__main__")
"""


class UnsupportedArchitecture(InvalidRequest):
    """llama.cpp's converters do not know the model's architecture."""


@dataclass(frozen=True)
class Exported:
    """The files of one export."""

    model: Path
    """The GGUF of the full, merged or base model."""
    adapter: Path | None
    """The LoRA adapter's GGUF, for an adapter export."""
    modelfile: Path
    """The Ollama ``Modelfile`` beside them."""


def model_folders(folder: Path) -> tuple[Path, Path | None]:
    """``(model, adapter)``: a model folder alone, or an adapter folder and its base.

    :raises InvalidRequest: neither a transformers model nor a PEFT adapter folder.
    """
    adapter_config = folder / "adapter_config.json"
    if adapter_config.is_file():
        config = json.loads(adapter_config.read_text(encoding="utf-8"))
        base = Path(str(config.get("base_model_name_or_path") or ""))
        if not (base / "config.json").is_file():
            raise InvalidRequest(
                f"{folder}: its adapter_config.json names the base model {str(base)!r}, "
                "which is not a local model folder",
                field="model",
            )
        return base, folder
    if not (folder / "config.json").is_file():
        raise InvalidRequest(
            f"{folder}: neither config.json nor adapter_config.json in it (not a "
            "transformers model or adapter folder)",
            field="model",
        )
    return folder, None


def export(
    folder: str | Path,
    output: str | Path,
    *,
    converters: Path,
    quantization: str = "f16",
    name: str | None = None,
    progress: Progress | None = None,
) -> Exported:
    """Write ``folder`` (a model or a LoRA adapter folder) as GGUF into ``output`` with the
    converters in ``converters``, and an Ollama ``Modelfile`` beside it.

    :param quantization: one of :data:`QUANTIZATIONS`.
    :param name: the files' stem (default: the folder's name).
    :raises UnsupportedArchitecture: the converters do not know the architecture.
    :raises InvalidRequest: not a model folder, or an unknown quantization.
    """
    if quantization not in QUANTIZATIONS:
        raise InvalidRequest(
            f"unknown GGUF quantization {quantization!r}; choose one of {', '.join(QUANTIZATIONS)}",
            field="quantization",
        )
    source = Path(folder).expanduser().resolve()
    model, adapter = model_folders(source)
    target = Path(output).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    stem = name or source.name
    say = progress or (lambda _message: None)
    pre = _pre_tokenizer(model)
    model_file = target / f"{model.name if adapter else stem}-{quantization}.gguf"
    say(f"converting {model} to {model_file} ...")
    _convert(
        converters,
        "convert_hf_to_gguf.py",
        pre,
        [str(model), "--outfile", str(model_file), "--outtype", quantization],
        model,
    )
    adapter_file = None
    if adapter is not None:
        adapter_file = target / f"{stem}-lora-{quantization}.gguf"
        say(f"converting the adapter {adapter} to {adapter_file} ...")
        _convert(
            converters,
            "convert_lora_to_gguf.py",
            pre,
            [
                *(str(adapter), "--base", str(model)),
                *("--outfile", str(adapter_file), "--outtype", quantization),
            ],
            model,
        )
    modelfile = target / "Modelfile"
    modelfile.write_text(_modelfile(model_file, adapter_file, model), encoding="utf-8")
    return Exported(model=model_file, adapter=adapter_file, modelfile=modelfile)


def _pre_tokenizer(folder: Path) -> str:
    """``"smollm"`` for a tokenizer whose pre-tokenizer is SmolLM's, else ``""`` (the
    converters decide, and refuse a tokenizer they do not know)."""
    try:
        tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return "smollm" if tokenizer.get("pre_tokenizer") == SMOLLM_PRE_TOKENIZER else ""


def _modelfile(model: Path, adapter: Path | None, source: Path) -> str:
    """An Ollama Modelfile: the GGUF (and adapter) by relative path, the stop token."""
    lines = [f"FROM ./{model.name}"]
    if adapter is not None:
        lines.append(f"ADAPTER ./{adapter.name}")
    eos = _eos_token(source)
    if eos:
        lines.append(f"PARAMETER stop {json.dumps(eos)}")
    return "\n".join(lines) + "\n"


def _eos_token(folder: Path) -> str | None:
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    eos = config.get("eos_token")
    if isinstance(eos, dict):
        eos = eos.get("content")
    return eos if isinstance(eos, str) else None


def _convert(converters: Path, script: str, pre: str, args: list[str], model: Path) -> None:
    if not (converters / script).is_file():
        raise FtsdkError(
            f"no {script} in {converters}: the llama.cpp engine's runtime is incomplete; "
            "rebuild it with: ftsdk serve install-engine llamacpp"
        )
    env = dict(os.environ, NO_LOCAL_GGUF="1", HF_HUB_OFFLINE="1")
    try:
        done = subprocess.run(
            [sys.executable, "-c", _SHIM, str(converters), script, pre, *args],
            capture_output=True,
            text=True,
            timeout=CONVERT_TIMEOUT_S,
            check=False,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise FtsdkError(f"{script} on {model} failed: {err}") from err
    if done.returncode == 0:
        return
    output = (done.stdout + done.stderr).strip()
    if "is not supported" in output:
        architectures = _architectures(model)
        raise UnsupportedArchitecture(
            f"llama.cpp's converters (llama-cpp-python's) do not know the architecture "
            f"{architectures} of {model}: it cannot be exported to GGUF; serve it with "
            "--engine transformers or vllm instead",
            field="model",
        )
    tail = "\n".join(output.splitlines()[-12:])
    raise FtsdkError(f"{script} on {model} failed (exit {done.returncode}):\n{tail}")


def _architectures(model: Path) -> str:
    try:
        config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "(unreadable config.json)"
    return ", ".join(config.get("architectures") or []) or "(none named in config.json)"


def export_model(
    model: Model | AsyncModel,
    output: str | Path,
    *,
    quantization: str = "f16",
    name: str | None = None,
    home: str | Path | None = None,
    progress: Progress | None = None,
) -> Exported:
    """:func:`export` for an ftsdk model whose weights are on this machine, with the
    converters of the pinned llama.cpp (fetched the first time: no engine build needed).

    :raises InvalidRequest: the model has no local weights, or see :func:`export`.
    """
    from ftsdk.serving.engines import runtime_for
    from ftsdk.serving.weights import local_weights

    converters = runtime_for("llamacpp", home=home).ensure_converters(progress)
    return export(
        local_weights(model),
        output,
        converters=converters,
        quantization=quantization,
        name=name,
        progress=progress,
    )
