"""Decoding: multipart forms and query strings arrive as text; rebuild nested values from
bracketed keys (``expires_after[anchor]``, ``metadata[key]``, ``ids[]``, as the ``openai``
client sends them) and coerce text to the types the schema asks for, so that the result
can be validated as JSON.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias
from urllib.parse import parse_qsl

from ftsdk_emulator.openapi.problems import Problem, _wrong_type
from ftsdk_emulator.openapi.schema import _NUMBER_TEXT, SchemaIndex, _FileValue

__all__ = ["FilePart", "FormInput", "QueryInput"]

#: A query string: raw text (``"a=1&b=2"``), a mapping, or ``(name, value)`` pairs.
QueryInput: TypeAlias = str | Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]
#: A multipart form: a mapping or ``(name, value)`` pairs.  A value is text or a file
#: (:class:`FilePart`, ``bytes``, or any other object, e.g. Starlette's ``UploadFile``).
FormInput: TypeAlias = Mapping[str, object] | Iterable[tuple[str, object]]

_MISSING: Final[Any] = object()
_INTEGER_TEXT: Final = re.compile(r"[-+]?[0-9]+")
_FORM_KEY: Final = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_BRACKETED: Final = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True, slots=True)
class FilePart:
    """A file field of a multipart form (what the validator needs to know of it)."""

    filename: str | None = None
    content_type: str | None = None
    size: int | None = None


class _Repeated(list[Any]):
    """The values of a form key given several times (or with ``[]``)."""


# ------------------------------------------------------------------------ decoding


def _query_pairs(query: QueryInput | None) -> list[tuple[str, str]]:
    """A query in any accepted shape as ``(name, value)`` pairs."""
    if query is None:
        return []
    if isinstance(query, str):
        return parse_qsl(query.lstrip("?"), keep_blank_values=True)
    if isinstance(query, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, value in query.items():
            if isinstance(value, str):
                pairs.append((key, value))
            else:
                pairs.extend((key, item) for item in value)
        return pairs
    return [(str(k), str(v)) for k, v in query]


def _form_pairs(form: FormInput) -> Iterator[tuple[str, object]]:
    """A form in any accepted shape as ``(name, value)`` pairs."""
    if isinstance(form, Mapping):
        for key, value in form.items():
            if isinstance(value, list | tuple):
                yield from ((str(key), item) for item in value)
            else:
                yield str(key), value
    else:
        yield from ((str(key), value) for key, value in form)


def _split_form_key(key: str) -> tuple[list[str], bool]:
    """``"a[b][c]"`` -> ``(["a", "b", "c"], False)``; ``"ids[]"`` -> ``(["ids"], True)``."""
    matched = _FORM_KEY.fullmatch(key)
    if not matched:
        return [key], False
    parts = [matched.group(1), *_BRACKETED.findall(matched.group(2))]
    if len(parts) > 1 and parts[-1] == "":
        return parts[:-1], True
    return parts, False


def _form_tree(form: FormInput) -> dict[str, Any]:
    """Nest bracketed form keys; a key given several times (or with ``[]``) collects values."""
    tree: dict[str, Any] = {}
    for key, value in _form_pairs(form):
        parts, append = _split_form_key(key)
        node = tree
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        leaf = parts[-1]
        if leaf in node or append:
            existing = node.get(leaf, _MISSING)
            if not isinstance(existing, _Repeated):
                existing = node[leaf] = _Repeated([] if existing is _MISSING else [existing])
            existing.append(value)
        else:
            node[leaf] = value
    return tree


def _unwrap_files(value: Any) -> Any:
    """Replace :class:`_FileValue` placeholders with the files they stand for."""
    if isinstance(value, _FileValue):
        return value.file
    if isinstance(value, dict):
        return {k: _unwrap_files(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_files(v) for v in value]
    return value


def _text_to_integer(text: str, kinds: frozenset[str]) -> Any:
    return int(text) if _INTEGER_TEXT.fullmatch(text) else _MISSING


def _text_to_number(text: str, kinds: frozenset[str]) -> Any:
    if not _NUMBER_TEXT.fullmatch(text):
        return _MISSING
    number = float(text)
    return number if math.isfinite(number) else _MISSING


def _text_to_boolean(text: str, kinds: frozenset[str]) -> Any:
    return {"true": True, "false": False}.get(text, _MISSING)


def _text_to_null(text: str, kinds: frozenset[str]) -> Any:
    return None if text in ("null", "") and "string" not in kinds else _MISSING


_TEXT_CONVERSIONS: Final = (
    ("integer", _text_to_integer),
    ("number", _text_to_number),
    ("boolean", _text_to_boolean),
    ("null", _text_to_null),
)


# ------------------------------------------------------------------ by the schema


def _coerce_text(index: SchemaIndex, text: str, schema: Any) -> Any:
    """Text from a form or query string, as the type the schema wants.

    A digit string becomes an integer where the schema admits integers (even
    beside strings, as in ``"auto" | integer``): a form can't say which was meant.
    """
    kinds = index.kinds(schema)
    if kinds is None:
        return text
    for kind, convert in _TEXT_CONVERSIONS:
        if kind in kinds:
            value = convert(text, kinds)
            if value is not _MISSING:
                return value
    return text


def _decode_query_param(
    index: SchemaIndex, name: str, param: Mapping[str, Any], pairs: Sequence[tuple[str, str]]
) -> Any:
    """One parameter's value from query pairs (``_MISSING`` when absent)."""
    schema = param["schema"]
    kinds = index.kinds(schema) or frozenset()
    style = param.get("style", "form")
    plain = [v for k, v in pairs if k == name]
    if "object" in kinds and style == "deepObject":
        prefix = f"{name}["
        nested = {
            k[len(prefix) : -1]: v for k, v in pairs if k.startswith(prefix) and k.endswith("]")
        }
        if nested:
            return {
                key: _coerce_text(index, value, index.property_schema(schema, key) or {})
                for key, value in nested.items()
            }
    elif "array" in kinds:
        values = plain + [v for k, v in pairs if k == f"{name}[]"]
        if values and not param.get("explode", style == "form"):
            values = [part for value in values for part in value.split(",")]
        items = index.items_schema(schema)
        return [_coerce_text(index, v, items) for v in values] if values else _MISSING
    # A scalar (or a deepObject given plainly, e.g. metadata=null); the last wins.
    return _coerce_text(index, plain[-1], schema) if plain else _MISSING


def _decode_form(
    index: SchemaIndex, form: FormInput, schema: Any, problems: list[Problem]
) -> dict[str, Any]:
    """Multipart fields -> a JSON-like instance (files as :class:`_FileValue`)."""
    decoded = _coerce_form_value(index, _form_tree(form), schema, [], problems)
    return decoded if isinstance(decoded, dict) else {}


def _coerce_form_value(
    index: SchemaIndex, value: Any, schema: Any, path: list[object], problems: list[Problem]
) -> Any:
    kinds = index.kinds(schema)
    wants_array = kinds is not None and "array" in kinds
    if isinstance(value, _Repeated) and not wants_array:
        value = value[-1]  # a scalar field given several times: the last wins
    if isinstance(value, dict) and wants_array and value and all(k.isdigit() for k in value):
        value = _Repeated(value[k] for k in sorted(value, key=int))  # a[0]=x&a[1]=y
    if isinstance(value, _Repeated):
        items = index.items_schema(schema)
        return [
            _coerce_form_value(index, v, items, [*path, i], problems) for i, v in enumerate(value)
        ]
    if isinstance(value, dict):
        return {
            key: _coerce_form_value(
                index, item, index.property_schema(schema, key) or {}, [*path, key], problems
            )
            for key, item in value.items()
        }
    if isinstance(value, str):
        if not index.is_binary(schema, only=True):
            return _coerce_text(index, value, schema)
        problems.append(_wrong_type("body", path, ["file"], value))
        return _FileValue(value)
    wrapped = _FileValue(value)
    if not index.is_binary(schema):
        problems.append(_wrong_type("body", path, sorted(kinds or {"string"}), wrapped))
    return wrapped
