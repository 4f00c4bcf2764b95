"""Problems in a job spec (or a method's hyperparameters), said in the user's words: the
path of each field, ``file:line`` when it was read from a file, unknown keys named with the
close name suggested. A leaf of the core: it knows models only through their fields."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ftsdk.errors import InvalidRequest

__all__ = ["SpecFile", "spec_error"]


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


_DATA_FIELDS = ("training_data", "validation_data")
_MAPPINGS = ("metadata", "provider_options")


def _tagged(model: type[BaseModel] | None, name: str) -> dict[str, type[BaseModel]]:
    """The models of ``model``'s field ``name`` by their ``type`` tag, when it is a tagged
    union of models (``JobSpec.method``: ``{"sft": SFT, "dpo": DPO}``); else empty."""
    found = None if model is None else model.model_fields.get(name)
    if found is None or found.discriminator is None:
        return {}
    members = typing.get_args(found.annotation)
    return {
        str(member.model_fields["type"].default): member
        for member in members
        if isinstance(member, type) and issubclass(member, BaseModel)
    }


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
        members = _tagged(model, part)
        if members:  # a tagged union: step into the member the tag names
            tag = str(parts.pop(0)) if parts and str(parts[0]) in members else next(iter(members))
            if not parts:
                return tuple(path), model
            model = members[tag]
            continue
        if model is not None and part in _DATA_FIELDS and part in model.model_fields:
            return tuple(path), model  # the union member pydantic tried is noise here
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
    hyperparameters = {
        name for member in _tagged(model, "method").values() for name in member.model_fields
    }
    if key in hyperparameters:
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
