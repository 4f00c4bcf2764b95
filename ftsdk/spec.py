"""``JobSpec``: what to train, the same on every provider."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from pydantic import ConfigDict, Field, NonNegativeFloat, PlainValidator, ValidationError

from ftsdk.errors import ConfigurationError, InvalidRequest
from ftsdk.files import FileRef
from ftsdk.methods import DPO, RFT, SFT, Method, _Friendly, method_fields
from ftsdk.spec_errors import SpecFile, spec_error

__all__ = [
    "DPO",
    "RFT",
    "SFT",
    "DataSource",
    "JobSpec",
    "Method",
    "SpecFile",
    "method_fields",
    "read_spec_file",
    "spec_error",
    "validate_spec",
]


def _a_dataset(value: object) -> object:
    """``value`` if it is a :class:`ftsdk.Dataset`. Checked without importing the dataset
    toolkit (providers import this module and need none of it): until the toolkit is
    loaded, no value can be a ``Dataset``."""
    toolkit = sys.modules.get("ftsdk.dataset")
    if toolkit is not None and isinstance(value, toolkit.Dataset):
        return value
    raise ValueError("not an ftsdk.Dataset")


if TYPE_CHECKING:
    from ftsdk.dataset import Dataset

    DataSource: TypeAlias = FileRef | Path | Dataset
else:
    DataSource = Annotated[
        FileRef | Path | Annotated[object, PlainValidator(_a_dataset)],
        Field(union_mode="left_to_right"),
    ]
"""Training data: a local path, a :class:`ftsdk.Dataset`, or a file already uploaded."""


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


# -- reading spec files ---------------------------------------------------------------


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
