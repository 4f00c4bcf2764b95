"""``JobSpec``: what to train, the same on every provider."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    InstanceOf,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    ValidationError,
)

from ftsdk.capabilities import MethodType
from ftsdk.dataset import Dataset
from ftsdk.errors import ConfigurationError, InvalidRequest
from ftsdk.files import FileRef

__all__ = [
    "DPO",
    "SFT",
    "DataSource",
    "JobSpec",
    "Method",
    "SpecFile",
    "method_fields",
    "read_spec_file",
    "validate_spec",
]

Auto = Literal["auto"]


class _Friendly(BaseModel):
    """Built from keyword arguments, a spec refuses bad values with one ftsdk
    :class:`~ftsdk.errors.InvalidRequest` listing every problem (unknown names with the
    close one suggested), not pydantic's ``ValidationError``."""

    if not TYPE_CHECKING:  # keep the typed __init__ that pydantic's mypy plugin writes

        def __init__(self, **data: Any) -> None:
            try:
                super().__init__(**data)
            except ValidationError as err:
                raise spec_error(err, type(self)) from err

        # Marked as pydantic marks its own: validation (model_validate, a nested method)
        # then does not go through this __init__, and reports every problem at once.
        __init__.__pydantic_base_init__ = True


class _Hyperparameters(_Friendly):
    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: PositiveInt | Auto = "auto"
    """Passes over the training data; ``"auto"`` lets the provider choose."""
    batch_size: PositiveInt | Auto = "auto"
    """Examples per optimizer step."""
    learning_rate_multiplier: PositiveFloat | Auto = "auto"
    """Scale of the provider's default learning rate (OpenAI, Azure)."""
    learning_rate: PositiveFloat | None = None
    """Absolute peak learning rate (local training)."""
    max_steps: PositiveInt | None = None
    """Stop after this many optimizer steps, whatever ``epochs`` says."""
    warmup_ratio: Annotated[float, Field(ge=0, lt=1)] | None = None
    """Fraction of steps spent warming the learning rate up."""
    weight_decay: NonNegativeFloat | None = None
    """Decoupled weight decay."""
    max_seq_length: PositiveInt | None = None
    """Longest tokenized example; longer ones are truncated (and reported)."""
    gradient_accumulation_steps: PositiveInt | None = None
    """Micro-batches accumulated into one optimizer step."""
    adapter: Literal["full", "lora", "qlora"] | None = None
    """Full fine-tuning, a LoRA adapter, or LoRA on a 4-bit base (QLoRA)."""
    lora_r: PositiveInt | None = None
    """LoRA rank."""
    lora_alpha: PositiveInt | None = None
    """LoRA scaling numerator."""
    lora_dropout: Annotated[float, Field(ge=0, lt=1)] | None = None
    """Dropout on the LoRA path."""

    def explicit(self) -> dict[str, Any]:
        """The hyperparameters the user set to a value (not left at ``"auto"``/``None``)."""
        return {
            name: getattr(self, name)
            for name in sorted(self.model_fields_set)
            if name != "type" and getattr(self, name) not in ("auto", None)
        }


class SFT(_Hyperparameters):
    """Supervised fine-tuning on chat or prompt/completion examples.

    >>> SFT(epochs=3, batch_size=8).explicit()
    {'batch_size': 8, 'epochs': 3}
    """

    type: Literal["sft"] = "sft"


class DPO(_Hyperparameters):
    """Direct preference optimization on preference pairs.

    >>> DPO(beta=0.1).type
    'dpo'
    """

    type: Literal["dpo"] = "dpo"
    beta: PositiveFloat | Auto = "auto"
    """Strength of the pull towards the reference model."""


Method = Annotated[SFT | DPO, Field(discriminator="type")]
"""A training method with its hyperparameters: :class:`SFT` or :class:`DPO`."""

DataSource = Annotated[FileRef | Path | InstanceOf[Dataset], Field(union_mode="left_to_right")]
"""Training data: a local path, a :class:`ftsdk.Dataset`, or a file already uploaded."""


@cache
def method_fields(method: MethodType) -> frozenset[str]:
    """Names of the hyperparameter fields of ``method`` (``"type"`` excluded)."""
    cls = SFT if method == "sft" else DPO
    return frozenset(cls.model_fields) - {"type"}


class JobSpec(_Friendly):
    """A fine-tuning job, described once and run unchanged on any provider.

    >>> spec = JobSpec(base_model="gpt-4o-mini-2024-07-18", training_data="train.jsonl",
    ...                method=SFT(epochs=3), suffix="recipes")
    >>> spec.method.type
    'sft'
    >>> JobSpec(base_model="m", training_file="t.jsonl")
    Traceback (most recent call last):
    ftsdk.errors.InvalidRequest: training_file: unknown field; did you mean training_data?
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_model: Annotated[str, Field(min_length=1)]
    """The model to fine-tune, in the provider's naming."""
    training_data: DataSource
    """The training examples."""
    validation_data: DataSource | None = None
    """Held-out examples the provider scores during training."""
    method: Method = Field(default_factory=SFT)
    """How to train, with hyperparameters."""
    suffix: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    """A label that providers put into the fine-tuned model's name."""
    seed: int | None = None
    """Seed for reproducible runs."""
    metadata: dict[str, str] = Field(default_factory=dict)
    """Your own key/value tags, stored with the job."""
    provider_options: dict[str, Any] = Field(default_factory=dict)
    """Provider-specific settings, validated by that provider's ``Options`` model."""
    max_cost: NonNegativeFloat | None = None
    """The most the run may cost, USD: refused before any upload when estimated over it
    (see :mod:`ftsdk.budget`; ``max_cost=`` of :meth:`ftsdk.Client.train` wins)."""

    @classmethod
    def from_file(cls, path: str | Path) -> JobSpec:
        """Read a job spec from a JSON or YAML file (YAML needs PyYAML).

        :raises InvalidRequest: the file is not valid JSON/YAML, not a mapping, or has
            problems; each problem names the file and, where known, the line.
        """
        found = read_spec_file(path)
        return validate_spec(found.data, found)


# -- reading spec files, and problems a person understands ----------------------------


@dataclass(frozen=True)
class SpecFile:
    """A job spec file as read: its fields, and the line of each key (where known)."""

    path: Path
    data: dict[str, Any]
    lines: Mapping[tuple[str, ...], int] = field(default_factory=dict)
    """1-based line of each key, by its path (``("method", "epochs")``)."""

    def line(self, path: tuple[str, ...]) -> int | None:
        """The line of the deepest key of ``path`` that the file holds."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def where(self, path: tuple[str, ...]) -> str:
        """``file:line`` of :meth:`line`, else ``file``."""
        line = self.line(path)
        return str(self.path) if line is None else f"{self.path}:{line}"


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise ConfigurationError(
            "YAML job specs need PyYAML: pip install pyyaml (or write the spec as JSON)"
        ) from None
    return yaml


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """The line of every mapping key, read from YAML's node tree (JSON is YAML too)."""
    try:
        import yaml

        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except Exception:  # no PyYAML, or JSON that YAML 1.1 cannot read: no line numbers
        return {}
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = (*path, str(key.value))
                lines.setdefault(here, key.start_mark.line + 1)
                walk(value, here)

    walk(root, ())
    return lines


def read_spec_file(path: str | Path) -> SpecFile:
    """Read ``path`` (``.json``, ``.yaml`` or ``.yml``) into a :class:`SpecFile`.

    :raises InvalidRequest: the file cannot be parsed or is not a mapping, with its line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidRequest(f"{path}: cannot read the job spec: {err}", field="spec") from err
    if path.suffix.lower() in (".yaml", ".yml"):
        yaml = _yaml()
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
            why = getattr(err, "problem", None) or str(err)
            raise InvalidRequest(f"{where}: not valid YAML: {why}", field="spec") from err
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidRequest(
                f"{path}:{err.lineno}:{err.colno}: not valid JSON: {err.msg}", field="spec"
            ) from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        raise InvalidRequest(
            f"{path}:1: a job spec is a mapping of JobSpec's fields "
            f"(base_model: ..., training_data: ...), not {kind}",
            field="spec",
        )
    return SpecFile(path, data, _key_lines(text))


def validate_spec(data: Mapping[str, Any], source: SpecFile | None = None) -> JobSpec:
    """``JobSpec`` from plain data; every problem at once, each with ``file:line`` when
    ``source`` is the file the data came from.

    :raises InvalidRequest: listing every problem in ``.problems``.
    """
    try:
        return JobSpec.model_validate(data)
    except ValidationError as err:
        raise spec_error(err, JobSpec, source) from err


_METHODS: dict[str, type[BaseModel]] = {"sft": SFT, "dpo": DPO}
_DATA_FIELDS = ("training_data", "validation_data")
_MAPPINGS = ("metadata", "provider_options")


def _field_path(
    root: type[BaseModel], loc: tuple[int | str, ...]
) -> tuple[tuple[str, ...], type[BaseModel] | None]:
    """The path as the user wrote it (the union tags pydantic adds dropped), and the
    model whose field the last part names."""
    path: list[str] = []
    model: type[BaseModel] | None = root
    parts = list(loc)
    while parts:
        part = str(parts.pop(0))
        path.append(part)
        if model is JobSpec and part == "method":
            tag = str(parts.pop(0)) if parts and str(parts[0]) in _METHODS else "sft"
            model = _METHODS[tag] if parts else model
            if not parts:
                return tuple(path), JobSpec
            continue
        if model is JobSpec and part in _DATA_FIELDS:
            return tuple(path), JobSpec  # the union member pydantic tried is noise here
        if model is not None and part not in model.model_fields:
            return tuple(path), model  # an unknown key: named in the model it is in
        if parts and part not in _MAPPINGS:
            return tuple(path), model  # the rest names the member of a union pydantic tried
        model = None  # inside a mapping (metadata, provider_options): keys as given
    return tuple(path), model


def _suggestion(key: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return ""
    names = [name for name in model.model_fields if name != "type"]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]}?"
    if model is JobSpec and key in SFT.model_fields | DPO.model_fields:
        return f"; {key} is a hyperparameter: put it under method (method: {{{key}: ...}})"
    return f"; the fields are: {', '.join(sorted(names))}"


def _why(error: Mapping[str, Any], path: tuple[str, ...], model: type[BaseModel] | None) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field" + _suggestion(path[-1], model)
    if kind == "missing":
        return "required"
    if path == ("method",) and kind in ("model_attributes_type", "dict_type", "model_type"):
        return (
            f"a mapping with its type and hyperparameters, e.g. "
            f"method: {{type: sft, epochs: 3}}; got {error.get('input')!r}"
        )
    if path and path[-1] in _DATA_FIELDS and len(path) == 1:
        return (
            "a file path, or a file already uploaded ({id: file-...}); "
            f"got {error.get('input')!r}"
        )
    message = str(error["msg"])
    return message[0].lower() + message[1:] if message else kind


def spec_error(
    err: ValidationError, root: type[BaseModel], source: SpecFile | None = None
) -> InvalidRequest:
    """One :class:`InvalidRequest` for every problem pydantic found, in the user's words:
    the path of each field, ``file:line`` when read from a file, unknown keys named with
    the close name suggested, and a required field left out for a close unknown key not
    reported twice."""
    problems: list[tuple[tuple[str, ...], str]] = []
    suggested: set[tuple[str, ...]] = set()
    for error in err.errors():
        path, model = _field_path(root, tuple(error["loc"]))
        why = _why(error, path, model)
        if why.startswith("unknown field; did you mean "):
            suggested.add((*path[:-1], why.removeprefix("unknown field; did you mean ")[:-1]))
        if why.startswith("unknown field") or all(p != path for p, _ in problems):
            problems.append((path, why))  # one problem per field: the first union member's
    kept = [(p, w) for p, w in problems if not (w == "required" and p in suggested)]
    if source is not None:  # in the order of the file; what it lacks, last
        kept.sort(key=lambda item: source.line(item[0]) or float("inf"))
    lines = [
        f"{source.where(p) + ': ' if source is not None else ''}{'.'.join(p) or 'spec'}: {w}"
        for p, w in kept
    ]
    if len(lines) == 1:
        message = lines[0]
    else:
        message = f"{len(lines)} problems in the job spec; first: {lines[0]}"
    return InvalidRequest(message, field=".".join(kept[0][0]) or None, problems=lines)
