"""Validate OpenAI API requests against a subset of OpenAI's OpenAPI description.

The subset is the JSON written by ``scripts/extract_openai_subset.py``: per operation
(``"POST /fine_tuning/jobs"``) the request body schema per content type and the parameters, plus the
``components.schemas`` those reference.  :class:`RequestValidator` turns the schemas
into JSON Schema 2020-12 (OpenAI's document is OpenAPI 3.1 but still uses several
OpenAPI 3.0 idioms, see :func:`normalize_schema`), validates with
:class:`jsonschema.Draft202012Validator` over a :class:`referencing.Registry`, and
words each problem the way OpenAI's API words its HTTP 400 answers::

    {"error": {"message": "Missing required parameter: 'model'.",
               "type": "invalid_request_error", "param": "model",
               "code": "missing_required_parameter"}}

``param`` uses OpenAI's notation (``messages[0].content``,
``method.supervised.hyperparameters.n_epochs``); the codes are the ones OpenAI's API
returns for schema violations (``missing_required_parameter``, ``unknown_parameter``,
``invalid_type``, ``invalid_value``, ``integer_below_min_value``,
``string_above_max_length``, ``empty_array`` ...).  OpenAI answers with one problem;
:meth:`RequestValidator.validate` returns all of them, most important first, so
``problems[0].to_error_body()`` is the answer to send.

Multipart forms and query strings arrive as text: :meth:`RequestValidator.parse_form`
and :meth:`RequestValidator.parse_query` rebuild nested values from bracketed keys
(``expires_after[anchor]``, ``metadata[key]``, ``ids[]``, which is how the ``openai``
client sends them) and coerce text to the types the schema asks for before validating.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias
from urllib.parse import parse_qsl, unquote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "ERROR_TYPE",
    "JSON_CONTENT_TYPE",
    "MULTIPART_CONTENT_TYPE",
    "FilePart",
    "FormInput",
    "Location",
    "PathMatch",
    "Problem",
    "QueryInput",
    "RequestValidator",
    "UnknownOperationError",
    "match_path_template",
    "normalize_schema",
]

JSON_CONTENT_TYPE: Final = "application/json"
MULTIPART_CONTENT_TYPE: Final = "multipart/form-data"
#: The ``error.type`` OpenAI uses for every request validation failure.
ERROR_TYPE: Final = "invalid_request_error"

#: Where a problem was found.
Location: TypeAlias = Literal["body", "query"]
#: A query string: raw text (``"a=1&b=2"``), a mapping, or ``(name, value)`` pairs.
QueryInput: TypeAlias = str | Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]
#: A multipart form: a mapping or ``(name, value)`` pairs.  A value is text or a file
#: (:class:`FilePart`, ``bytes``, or any other object, e.g. Starlette's ``UploadFile``).
FormInput: TypeAlias = Mapping[str, object] | Iterable[tuple[str, object]]

# Error codes OpenAI returns for schema violations (others are built per keyword).
MISSING_REQUIRED_PARAMETER: Final = "missing_required_parameter"
UNKNOWN_PARAMETER: Final = "unknown_parameter"
INVALID_TYPE: Final = "invalid_type"
INVALID_VALUE: Final = "invalid_value"

_SUBSET_URI: Final = "urn:ftsdk:openai-openapi-subset"
_SCHEMA_PREFIX: Final = "#/components/schemas/"
_MISSING: Final[Any] = object()

_SCHEMA_MAP_KEYWORDS: Final = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)
_SCHEMA_KEYWORDS: Final = frozenset(
    {
        "items",
        "additionalItems",
        "additionalProperties",
        "unevaluatedItems",
        "unevaluatedProperties",
        "not",
        "contains",
        "propertyNames",
        "if",
        "then",
        "else",
        "contentSchema",
    }
)
_SCHEMA_LIST_KEYWORDS: Final = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_NUMERIC_KEYWORDS: Final = frozenset(
    {
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
    }
)
#: Keywords a ``nullable`` schema can't simply add ``"null"`` to its ``type`` for.
_NEEDS_WRAPPING: Final = ("$ref", "allOf", "anyOf", "oneOf", "not", "const")
_ANNOTATIONS_ONLY: Final = frozenset({"default", "deprecated", "readOnly", "writeOnly"})

_KIND_OF: Final[tuple[tuple[type[Any] | tuple[type[Any], ...], str], ...]] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),  # after _FileValue, checked first below
    ((list, tuple), "array"),
    (Mapping, "object"),
)
_TYPE_WORDS: Final = {
    "null": "null",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "array": "an array",
    "object": "an object",
    "file": "a file",
}
_BOUNDS: Final = {  # keyword -> (comparison, below?)
    "minimum": (">=", True),
    "exclusiveMinimum": (">", True),
    "maximum": ("<=", False),
    "exclusiveMaximum": ("<", False),
}
_LENGTHS: Final = {  # keyword -> (what, too..., bound, code when empty, code)
    "minLength": ("string", "short", "minimum", "empty_string", "string_below_min_length"),
    "maxLength": ("string", "long", "maximum", None, "string_above_max_length"),
    "minItems": ("array", "short", "minimum", "empty_array", "array_below_min_length"),
    "maxItems": ("array", "long", "maximum", None, "array_above_max_length"),
}
_INTEGER_TEXT: Final = re.compile(r"[-+]?[0-9]+")
_NUMBER_TEXT: Final = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_FORM_KEY: Final = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_BRACKETED: Final = re.compile(r"\[([^\[\]]*)\]")
_CODE_RANK: Final = {MISSING_REQUIRED_PARAMETER: 0, UNKNOWN_PARAMETER: 1, INVALID_TYPE: 2}


# ------------------------------------------------------------------------ public types


@dataclass(frozen=True, slots=True)
class FilePart:
    """A file field of a multipart form (what the validator needs to know of it)."""

    filename: str | None = None
    content_type: str | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """One way a request breaks the API description.

    Attributes:
        location: ``"body"`` (JSON or multipart) or ``"query"``.
        pointer: JSON pointer to the value within its location (``""`` for the
            whole body), e.g. ``/method/supervised/hyperparameters/n_epochs``.
        param: the parameter in OpenAI's notation (``messages[0].content``; a query
            parameter keeps its wire name, ``metadata[key]``), or ``None``.
        message: human-readable, worded like OpenAI's API.
        code: OpenAI's machine-readable code, or ``None``.
    """

    location: Location
    pointer: str
    param: str | None
    message: str
    code: str | None

    def to_error_body(self) -> dict[str, Any]:
        """The JSON body OpenAI answers with (HTTP 400) for this problem."""
        return {
            "error": {
                "message": self.message,
                "type": ERROR_TYPE,
                "param": self.param,
                "code": self.code,
            }
        }


@dataclass(frozen=True, slots=True)
class PathMatch:
    """A concrete URL path resolved to a path template.

    ``methods`` lists the methods the template supports (empty when unknown), so a
    caller can tell 404 (no match) from 405 (method not in ``methods``).
    """

    template: str
    params: Mapping[str, str]
    methods: frozenset[str] = field(default_factory=frozenset)


class UnknownOperationError(LookupError):
    """The subset has no such operation (method and path template)."""


class _FileValue(str):
    """Stands for an uploaded file while a form is validated (a string to JSON Schema)."""

    __slots__ = ("file",)

    file: object

    def __new__(cls, file: object) -> _FileValue:
        """Wrap ``file``; the text is a label, e.g. ``<file train.jsonl>``."""
        name = getattr(file, "filename", None)
        made = super().__new__(cls, f"<file {name}>" if isinstance(name, str) else "<file>")
        made.file = file
        return made


class _Repeated(list[Any]):
    """The values of a form key given several times (or with ``[]``)."""


# --------------------------------------------------------------------------- schemas


def _map_schema(schema: Any, transform: Callable[[dict[str, Any]], Any]) -> Any:
    """Rebuild ``schema`` bottom-up, applying ``transform`` to every schema object."""
    if not isinstance(schema, Mapping):
        return schema
    rebuilt: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAP_KEYWORDS and isinstance(value, Mapping):
            rebuilt[key] = {name: _map_schema(sub, transform) for name, sub in value.items()}
        elif key in _SCHEMA_KEYWORDS and isinstance(value, Mapping):
            rebuilt[key] = _map_schema(value, transform)
        elif (key in _SCHEMA_LIST_KEYWORDS or key == "items") and isinstance(value, list):
            rebuilt[key] = [_map_schema(sub, transform) for sub in value]
        else:
            rebuilt[key] = value
    return transform(rebuilt)


def _as_number(value: Any) -> Any:
    """A numeric keyword given as text (``"9.2e18"``) as a number; others unchanged."""
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 2**63 else number
    return value


def _normalize_one(schema: dict[str, Any]) -> dict[str, Any]:
    """Turn one OpenAPI 3.0-flavoured schema object into JSON Schema 2020-12."""
    for key in _NUMERIC_KEYWORDS & schema.keys():
        schema[key] = _as_number(schema[key])
    # OpenAPI 3.0: a boolean exclusiveMinimum/Maximum qualifies minimum/maximum.
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = schema.get(exclusive)
        if isinstance(flag, bool):
            del schema[exclusive]
            if flag and bound in schema:
                schema[exclusive] = schema.pop(bound)
    # OpenAPI 3.0: nullable.
    if schema.pop("nullable", False) is not True:
        return schema
    if "type" not in schema or any(key in schema for key in _NEEDS_WRAPPING):
        if schema.keys() <= _ANNOTATIONS_ONLY:
            return schema  # unconstrained: null is already allowed
        return {"anyOf": [schema, {"type": "null"}]}
    kind = schema["type"]
    kinds = [kind] if isinstance(kind, str) else list(kind)
    if "null" not in kinds:
        schema["type"] = [*kinds, "null"]
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    return schema


def normalize_schema(schema: Any) -> Any:
    """Return ``schema`` rewritten from OpenAPI 3.0 idioms to valid JSON Schema 2020-12.

    * ``nullable: true`` adds ``"null"`` to ``type`` (and ``None`` to ``enum``), or
      becomes ``anyOf: [schema, {type: null}]`` when the schema has no ``type`` or
      uses ``$ref``/``anyOf``/``oneOf``/``allOf``/``not``/``const``.
    * A boolean ``exclusiveMinimum``/``exclusiveMaximum`` becomes the numeric form.
    * Numeric keywords given as strings become numbers.

    The rest is left to JSON Schema, which ignores unknown keywords (``discriminator``,
    ``x-*``, ``example``) and does not assert ``format`` unless asked to.
    """
    return _map_schema(schema, _normalize_one)


# ----------------------------------------------------------------------------- paths


@functools.lru_cache(maxsize=256)
def _template_pattern(template: str) -> tuple[re.Pattern[str], int]:
    """A regex for a path template, and its number of literal segments."""
    regex, literal = "", 0
    for part in (p for p in template.strip("/").split("/") if p):
        if part.startswith("{") and part.endswith("}"):
            regex += f"/(?P<{part[1:-1]}>[^/]+)"
        else:
            literal += 1
            regex += "/" + re.escape(part)
    return re.compile(regex + "/?"), literal


def match_path_template(path: str, templates: Iterable[str]) -> PathMatch | None:
    """Resolve a concrete path (``/v1/fine_tuning/jobs/ftjob-1/events``) to a template.

    A leading ``/v1`` (OpenAI's server base path), a query string and a trailing
    slash are ignored; parameter values are percent-decoded.  When several templates
    match, the one with the most literal segments wins.
    """
    path = path.split("?", 1)[0].split("#", 1)[0] or "/"
    if path == "/v1" or path.startswith("/v1/"):
        path = path[3:] or "/"
    found: list[tuple[int, str, dict[str, str]]] = []
    for template in templates:
        pattern, literal = _template_pattern(template)
        matched = pattern.fullmatch(path)
        if matched:
            params = {k: unquote(v) for k, v in matched.groupdict().items()}
            found.append((literal, template, params))
    if not found:
        return None
    _, template, params = max(found, key=lambda item: item[0])
    return PathMatch(template=template, params=params)


# ------------------------------------------------------------------------ wording


def _param_name(path: Sequence[object], location: Location) -> str | None:
    """OpenAI's name for an instance path.

    Body: ``["messages", 0, "content"]`` -> ``messages[0].content``.
    Query: ``["metadata", "team"]`` -> ``metadata[team]`` (the wire form).
    """
    if not path:
        return None
    if location == "query":
        return str(path[0]) + "".join(f"[{part}]" for part in path[1:])
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _pointer(path: Sequence[object]) -> str:
    """A JSON pointer (RFC 6901) for an instance path."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _make_problem(
    location: Location, path: Sequence[object], message: str, code: str | None
) -> Problem:
    return Problem(
        location=location,
        pointer=_pointer(path),
        param=_param_name(path, location),
        message=message,
        code=code,
    )


def _instance_kind(value: Any) -> str:
    """The JSON type name of a Python value (``"file"`` for an uploaded file)."""
    if value is None:
        return "null"
    if isinstance(value, _FileValue):
        return "file"
    for types, name in _KIND_OF:
        if isinstance(value, types):
            return name
    return "file"  # bytes, FilePart, UploadFile, ...


def _is_kind(value: Any, kind: str) -> bool:
    """Whether ``value`` has JSON type ``kind`` (JSON Schema semantics: 1.0 is an integer)."""
    actual = _instance_kind(value)
    if kind == "number":
        return actual in ("integer", "number")
    if kind == "integer" and actual == "number":
        return float(value).is_integer()
    return actual == kind


def _quote(value: Any) -> str:
    """A value as OpenAI quotes it in messages (``'text'``, ``3``)."""
    return f"'{value}'" if isinstance(value, str) else json.dumps(value)


def _number(value: Any) -> str:
    """A bound as text: ``1`` rather than ``1.0``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _english_list(items: Sequence[str], conjunction: str = "and") -> str:
    """``['a', 'b', 'c']`` -> ``"a, b, and c"``."""
    if len(items) <= 2:
        return f" {conjunction} ".join(items)
    return ", ".join(items[:-1]) + f", {conjunction} {items[-1]}"


def _missing(path: Sequence[object], location: Location) -> Problem:
    """A ``missing_required_parameter`` problem for the key at ``path``."""
    name = _param_name(path, location)
    return _make_problem(
        location, path, f"Missing required parameter: '{name}'.", MISSING_REQUIRED_PARAMETER
    )


def _unknown(path: Sequence[object], location: Location) -> Problem:
    """An ``unknown_parameter`` problem for the key at ``path``."""
    name = _param_name(path, location)
    return _make_problem(location, path, f"Unknown parameter: '{name}'.", UNKNOWN_PARAMETER)


def _wrong_type(
    location: Location, path: Sequence[object], expected: Iterable[str], instance: Any
) -> Problem:
    """An ``invalid_type`` problem."""
    words = [_TYPE_WORDS.get(kind, kind) for kind in dict.fromkeys(expected)]
    wanted = words[0] if len(words) == 1 else "one of " + _english_list(words, "or")
    got = _TYPE_WORDS[_instance_kind(instance)]
    name = _param_name(path, location)
    subject = f" for '{name}'" if name else ""
    message = f"Invalid type{subject}: expected {wanted}, but got {got} instead."
    return _make_problem(location, path, message, INVALID_TYPE)


def _wrong_value(
    location: Location, path: Sequence[object], instance: Any, allowed: Iterable[Any]
) -> Problem:
    """An ``invalid_value`` problem for a value outside an enumeration."""
    shown = [_quote(v) for v in allowed if v is not None]
    supported = f" Supported values are: {_english_list(shown)}." if shown else ""
    return _make_problem(
        location, path, f"Invalid value: {_quote(instance)}.{supported}", INVALID_VALUE
    )


def _subject(path: Sequence[object], location: Location) -> str:
    name = _param_name(path, location)
    return f" '{name}'" if name else ""


def _explain_required(error: Any, path: list[object], location: Location) -> list[Problem]:
    instance = error.instance
    if not isinstance(instance, Mapping):
        return []
    return [_missing([*path, p], location) for p in error.validator_value if p not in instance]


def _explain_extra(error: Any, path: list[object], location: Location) -> list[Problem]:
    instance, schema = error.instance, error.schema
    if not isinstance(instance, Mapping) or not isinstance(schema, Mapping):
        return []
    declared = set(schema.get("properties", {}))
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return [
        _unknown([*path, key], location)
        for key in instance
        if key not in declared and not any(p.search(key) for p in patterns)
    ]


def _explain_type(error: Any, path: list[object], location: Location) -> list[Problem]:
    kinds = error.validator_value
    return [
        _wrong_type(location, path, [kinds] if isinstance(kinds, str) else kinds, error.instance)
    ]


def _explain_enum(error: Any, path: list[object], location: Location) -> list[Problem]:
    return [_wrong_value(location, path, error.instance, _tags(error))]


def _explain_bound(error: Any, path: list[object], location: Location) -> list[Problem]:
    sign, below = _BOUNDS[error.validator]
    declared = error.schema.get("type") if isinstance(error.schema, Mapping) else None
    types = {declared} if isinstance(declared, str) else set(declared or ())
    kind = "integer" if "integer" in types and "number" not in types else "decimal"
    where = "below minimum" if below else "above maximum"
    message = (
        f"Invalid{_subject(path, location)}: {kind} {where} value. Expected a value "
        f"{sign} {_number(error.validator_value)}, but got {_number(error.instance)} instead."
    )
    return [
        _make_problem(
            location, path, message, f"{kind}_{'below_min' if below else 'above_max'}_value"
        )
    ]


def _explain_length(error: Any, path: list[object], location: Location) -> list[Problem]:
    what, adjective, bound, empty_code, code = _LENGTHS[error.validator]
    size, limit = len(error.instance), error.validator_value
    article = "an" if what == "array" else "a"
    subject = _subject(path, location)
    if size == 0 and empty_code:
        message = (
            f"Invalid{subject}: empty {what}. Expected {article} {what} with {bound} length "
            f"{limit}, but got an empty {what} instead."
        )
        return [_make_problem(location, path, message, empty_code)]
    message = (
        f"Invalid{subject}: {what} too {adjective}. Expected {article} {what} with {bound} "
        f"length {limit}, but got {article} {what} with length {size} instead."
    )
    return [_make_problem(location, path, message, code)]


_Explainer: TypeAlias = Callable[[Any, list[object], Location], list[Problem]]
_EXPLAINERS: Final[Mapping[str, _Explainer]] = {
    "required": _explain_required,
    "additionalProperties": _explain_extra,
    "unevaluatedProperties": _explain_extra,
    "type": _explain_type,
    "enum": _explain_enum,
    "const": _explain_enum,
    **dict.fromkeys(_BOUNDS, _explain_bound),
    **dict.fromkeys(_LENGTHS, _explain_length),
}


def _is_tag_mismatch(error: Any) -> bool:
    """Whether a union branch failed on a tag-like property (``type: "string_check"``)."""
    if len(error.relative_path) != 1:
        return False
    if error.validator == "const":
        return True
    return error.validator == "enum" and len(error.validator_value) == 1


def _tags(error: Any) -> list[Any]:
    """The values an ``enum`` or ``const`` error allowed."""
    return list(error.validator_value) if error.validator == "enum" else [error.validator_value]


def _ranked(problems: Iterable[Problem]) -> list[Problem]:
    """Most important first: missing, then unknown, then wrongly typed, then the rest."""
    return sorted(problems, key=lambda p: _CODE_RANK.get(p.code or "", 3))


def _within(pointer: str, ancestor: str) -> bool:
    """Whether JSON pointer ``pointer`` is ``ancestor`` or below it."""
    return pointer == ancestor or pointer.startswith(ancestor + "/")


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


# ------------------------------------------------------------------------ validator


@dataclass(frozen=True, slots=True)
class _Operation:
    body_required: bool
    body_roots: Mapping[str, str]  # content type -> key of its schema in the roots
    body_schemas: Mapping[str, Any]  # content type -> normalized schema
    query_root: str | None  # key of the synthesized query object schema
    query_params: Mapping[str, Mapping[str, Any]]  # name -> parameter, schema normalized


class RequestValidator:
    """Validates request bodies and query strings of the operations in a subset.

    Args:
        subset: the document written by ``extract.py``.
        reject_unknown_body_fields: also report top-level JSON body fields the schema
            does not declare, as ``unknown_parameter``.  OpenAI's API rejects those
            even where its published schema allows extra properties (as it does for
            ``POST /fine_tuning/jobs`` and ``POST /chat/completions``).  Off by
            default, since the spec alone permits them.
    """

    def __init__(
        self, subset: Mapping[str, Any], *, reject_unknown_body_fields: bool = False
    ) -> None:
        operations = subset.get("operations")
        if not isinstance(operations, Mapping):
            raise ValueError("not a subset document: no 'operations'")
        schemas = subset.get("components", {}).get("schemas", {})
        self._reject_unknown = reject_unknown_body_fields
        self._schemas: dict[str, Any] = {name: normalize_schema(s) for name, s in schemas.items()}
        # id(schema) -> (schema, kinds); holding the schema keeps its id from being reused.
        self._kinds_cache: dict[int, tuple[Any, frozenset[str] | None]] = {}
        # Request schemas ("roots") live beside the components in one registered
        # document, so their "#/components/schemas/..." refs resolve within it.
        self._roots: dict[str, Any] = {}
        self._operations: dict[tuple[str, str], _Operation] = {}
        methods: dict[str, set[str]] = {}
        for name, spec in sorted(operations.items()):
            method, _, template = name.partition(" ")
            self._operations[(method.upper(), template)] = self._build_operation(spec)
            methods.setdefault(template, set()).add(method.upper())
        self._methods = {template: frozenset(found) for template, found in methods.items()}
        document = {"components": {"schemas": self._schemas}, "roots": self._roots}
        registry: Registry[Any] = Registry().with_resource(
            _SUBSET_URI, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        self._validators: dict[str, Any] = {
            key: Draft202012Validator({"$ref": f"{_SUBSET_URI}#/roots/{key}"}, registry=registry)
            for key in self._roots
        }

    def _add_root(self, schema: Any) -> str:
        """Register a request schema; return its key."""
        key = f"r{len(self._roots)}"
        self._roots[key] = schema
        return key

    def _build_operation(self, spec: Mapping[str, Any]) -> _Operation:
        body = spec.get("requestBody") or {}
        body_schemas: dict[str, Any] = {}
        body_roots: dict[str, str] = {}
        for content_type, media in sorted(body.get("content", {}).items()):
            schema = body_schemas[content_type] = normalize_schema(media.get("schema", {}))
            body_roots[content_type] = self._add_root(schema)
        query_params = {
            p["name"]: {**p, "schema": normalize_schema(p.get("schema", {}))}
            for p in spec.get("parameters", [])
            if p.get("in") == "query"
        }
        query_root = None
        if query_params:
            query_schema = {
                "type": "object",
                "properties": {n: p["schema"] for n, p in query_params.items()},
                "required": sorted(n for n, p in query_params.items() if p.get("required")),
            }
            query_root = self._add_root(query_schema)
        return _Operation(
            body_required=bool(body.get("required", False)),
            body_roots=body_roots,
            body_schemas=body_schemas,
            query_root=query_root,
            query_params=query_params,
        )

    @classmethod
    def from_file(
        cls, path: str | Path, *, reject_unknown_body_fields: bool = False
    ) -> RequestValidator:
        """Build a validator from a subset JSON file."""
        subset = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(subset, reject_unknown_body_fields=reject_unknown_body_fields)

    # ------------------------------------------------------------------- lookups

    @property
    def operations(self) -> frozenset[str]:
        """The operations known, as ``"METHOD /template"``."""
        return frozenset(f"{m} {t}" for m, t in self._operations)

    @property
    def schemas(self) -> Mapping[str, Any]:
        """The component schemas, normalized to JSON Schema 2020-12."""
        return self._schemas

    def has_operation(self, method: str, path_template: str) -> bool:
        """Whether the subset describes ``method`` on ``path_template``."""
        return (method.upper(), path_template) in self._operations

    def match_path(self, path: str) -> PathMatch | None:
        """Resolve a concrete path to one of the subset's templates.

        See :func:`match_path_template`; ``PathMatch.methods`` is filled in.
        """
        found = match_path_template(path, self._methods)
        if found is None:
            return None
        return PathMatch(found.template, found.params, self._methods[found.template])

    def _operation(self, method: str, path_template: str) -> _Operation:
        try:
            return self._operations[(method.upper(), path_template)]
        except KeyError:
            raise UnknownOperationError(f"{method.upper()} {path_template}") from None

    # ---------------------------------------------------------------- validation

    def validate(
        self,
        method: str,
        path_template: str,
        *,
        json_body: Any = None,
        form: FormInput | None = None,
        query: QueryInput | None = None,
    ) -> list[Problem]:
        """Check a request; return its problems, most important first (``[]`` if valid).

        Args:
            method: the HTTP method.
            path_template: the operation's template, e.g. ``/fine_tuning/jobs``
                (see :meth:`match_path`).
            json_body: the parsed JSON body, or ``None`` when the request had none.
                An absent required body is checked as ``{}``, so the answer names the
                first missing required field.
            form: the multipart form fields, for ``multipart/form-data`` operations.
            query: the query string.

        Raises:
            UnknownOperationError: the subset has no such operation.
            ValueError: both ``json_body`` and ``form`` were given.
        """
        operation = self._operation(method, path_template)
        problems: list[Problem] = []
        if query is not None or any(p.get("required") for p in operation.query_params.values()):
            problems.extend(self.parse_query(method, path_template, query)[1])
        problems.extend(self._check_body(operation, json_body, form)[1])
        return _ranked(problems)

    def parse_query(
        self, method: str, path_template: str, query: QueryInput | None
    ) -> tuple[dict[str, Any], list[Problem]]:
        """Decode and validate a query string against the operation's parameters.

        Returns the typed values, with schema ``default`` s filled in for absent
        parameters (``limit`` -> 20), and the problems.  Parameters the operation does
        not declare are ignored, as OpenAI's API ignores them.
        """
        operation = self._operation(method, path_template)
        pairs = _query_pairs(query)
        values: dict[str, Any] = {}
        for name, param in operation.query_params.items():
            value = self._decode_query_param(name, param, pairs)
            if value is not _MISSING:
                values[name] = value
        problems: list[Problem] = []
        if operation.query_root is not None:
            errors = self._validators[operation.query_root].iter_errors(values)
            problems = self._explain_all(errors, "query")
        for name, param in operation.query_params.items():
            if name not in values and "default" in param["schema"]:
                values[name] = param["schema"]["default"]
        return values, _ranked(problems)

    def parse_form(
        self, method: str, path_template: str, form: FormInput
    ) -> tuple[dict[str, Any], list[Problem]]:
        """Decode and validate a multipart form.

        Bracketed keys become nested values (``expires_after[seconds]=3600`` ->
        ``{"expires_after": {"seconds": 3600}}``), text is coerced to the schema's
        types, and fields the schema declares ``format: binary`` must be files.
        Returns the decoded values (files as given) and the problems.
        """
        values, problems = self._check_body(self._operation(method, path_template), None, form)
        return (values if isinstance(values, dict) else {}), problems

    def _content_type(self, operation: _Operation, json_body: Any, form: FormInput | None) -> str:
        if json_body is not None and form is not None:
            raise ValueError("give json_body or form, not both")
        if form is not None:
            return MULTIPART_CONTENT_TYPE
        if json_body is not None or JSON_CONTENT_TYPE in operation.body_roots:
            return JSON_CONTENT_TYPE
        return MULTIPART_CONTENT_TYPE

    def _check_body(
        self, operation: _Operation, json_body: Any, form: FormInput | None
    ) -> tuple[Any, list[Problem]]:
        """Validate a body; return it decoded (forms) or as given (JSON), and the problems."""
        content_type = self._content_type(operation, json_body, form)
        if not operation.body_roots:
            return json_body, []  # the spec describes no body: nothing to check
        if content_type not in operation.body_roots:
            expected = _english_list(sorted(operation.body_roots), "or")
            message = f"Invalid Content-Type header ({content_type}), expected {expected}."
            return None, [Problem("body", "", None, message, None)]
        schema = operation.body_schemas[content_type]
        problems: list[Problem] = []
        if content_type == MULTIPART_CONTENT_TYPE:
            instance = self._decode_form(form if form is not None else {}, schema, problems)
        elif json_body is not None:
            instance = json_body
        elif operation.body_required:
            instance = {}
        else:
            return None, []
        reported = [p.pointer for p in problems]
        errors = self._validators[operation.body_roots[content_type]].iter_errors(instance)
        problems.extend(
            p
            for p in self._explain_all(errors, "body")
            if not any(_within(p.pointer, r) for r in reported)
        )
        if (
            self._reject_unknown
            and content_type == JSON_CONTENT_TYPE
            and isinstance(instance, dict)
        ):
            declared = self._declared_properties(schema)
            if declared is not None:
                problems.extend(_unknown([key], "body") for key in instance if key not in declared)
        if content_type == MULTIPART_CONTENT_TYPE:
            instance = _unwrap_files(instance)
        return instance, _ranked(problems)

    # ----------------------------------------------------------- error wording

    def _explain_all(self, errors: Iterable[Any], location: Location) -> list[Problem]:
        """Word jsonschema errors as problems, without duplicates."""
        problems: list[Problem] = []
        seen: set[tuple[str, str | None]] = set()
        for error in errors:
            for problem in self._explain(error, location):
                if (problem.pointer, problem.code) not in seen:
                    seen.add((problem.pointer, problem.code))
                    problems.append(problem)
        return problems

    def _explain(self, error: Any, location: Location) -> list[Problem]:
        """Word one jsonschema error (for unions: the errors of the branch meant)."""
        path = list(error.absolute_path)
        if error.validator in ("anyOf", "oneOf") and error.context:
            return self._explain_union(error, path, location)
        explainer = _EXPLAINERS.get(error.validator)
        if explainer is not None:
            return explainer(error, path, location)
        message = f"Invalid{_subject(path, location)}: {error.message}"
        return [_make_problem(location, path, message, INVALID_VALUE)]

    def _explain_union(self, error: Any, path: list[object], location: Location) -> list[Problem]:
        """Explain an ``anyOf``/``oneOf`` failure through the branch the caller meant.

        The branch is picked by the OpenAPI ``discriminator`` when there is one, else
        by the instance's JSON type, else by which branches' tag-like properties (a
        one-value ``enum`` or a ``const``) matched; failing all that, by
        :func:`jsonschema.exceptions.best_match`.
        """
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        branches: list[Any] = list(schema.get(error.validator, []))
        instance = error.instance
        by_branch: dict[int, list[Any]] = {}
        for sub in error.context:
            by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)

        discriminator = schema.get("discriminator")
        if isinstance(discriminator, Mapping) and isinstance(instance, Mapping):
            prop = discriminator.get("propertyName")
            if isinstance(prop, str):
                return self._explain_discriminated(
                    prop=prop,
                    branches=branches,
                    by_branch=by_branch,
                    instance=instance,
                    path=path,
                    location=location,
                )

        chosen = [i for i, branch in enumerate(branches) if self._admits_kind(branch, instance)]
        if not chosen:
            expected = [kind for branch in branches for kind in sorted(self._kinds(branch) or ())]
            return [_wrong_type(location, path, expected, instance)]
        if len(chosen) > 1:
            mismatches = {
                i: [e for e in by_branch.get(i, []) if _is_tag_mismatch(e)] for i in chosen
            }
            untagged = [i for i in chosen if not mismatches[i]]
            tags = {e.relative_path[0] for found in mismatches.values() for e in found}
            if not untagged and len(tags) == 1:  # an unknown tag value, e.g. a grader type
                (tag,) = tags
                allowed = [v for found in mismatches.values() for e in found for v in _tags(e)]
                return [_wrong_value(location, [*path, tag], instance[tag], allowed)]
            chosen = untagged or chosen
        if len(chosen) == 1:
            return self._explain_all(by_branch.get(chosen[0], []), location)
        best = best_match([e for i in chosen for e in by_branch.get(i, [])])
        if best is None:  # pragma: no cover - a failed union always has branch errors
            return [
                _make_problem(
                    location, path, f"Invalid value{_subject(path, location)}.", INVALID_VALUE
                )
            ]
        return self._explain(best, location)

    def _explain_discriminated(
        self,
        *,
        prop: str,
        branches: Sequence[Any],
        by_branch: Mapping[int, list[Any]],
        instance: Mapping[str, Any],
        path: list[object],
        location: Location,
    ) -> list[Problem]:
        if prop not in instance:
            return [_missing([*path, prop], location)]
        tags = [self._tag_values(branch, prop) for branch in branches]
        chosen = [i for i, values in enumerate(tags) if instance[prop] in values]
        if not chosen:
            return [
                _wrong_value(location, [*path, prop], instance[prop], [v for t in tags for v in t])
            ]
        return self._explain_all(by_branch.get(chosen[0], []), location)

    # ----------------------------------------------------------- schema helpers

    def _resolve(self, schema: Any) -> Any:
        """Follow ``$ref`` s into the normalized component schemas."""
        for _ in range(64):
            ref = schema.get("$ref") if isinstance(schema, Mapping) else None
            if not isinstance(ref, str) or not ref.startswith(_SCHEMA_PREFIX):
                return schema
            schema = self._schemas.get(ref[len(_SCHEMA_PREFIX) :], {})
        return schema

    def _kinds(self, schema: Any) -> frozenset[str] | None:
        """The JSON types a schema admits (``None``: any)."""
        cached = self._kinds_cache.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        self._kinds_cache[id(schema)] = (schema, None)  # guards against recursion
        kinds = self._compute_kinds(self._resolve(schema))
        self._kinds_cache[id(schema)] = (schema, kinds)
        return kinds

    def _compute_kinds(self, schema: Any) -> frozenset[str] | None:
        if not isinstance(schema, Mapping):
            return frozenset() if schema is False else None
        declared = schema.get("type")
        if declared is not None:
            return frozenset([declared] if isinstance(declared, str) else declared)
        if "enum" in schema or "const" in schema:
            values = schema["enum"] if "enum" in schema else [schema["const"]]
            return frozenset(_instance_kind(v) for v in values)
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            found = [self._kinds(branch) for branch in branches]
            return None if None in found else frozenset().union(*(k for k in found if k))
        parts = [k for k in (self._kinds(p) for p in schema.get("allOf", [])) if k is not None]
        return parts[0] if parts else None

    def _admits_kind(self, schema: Any, instance: Any) -> bool:
        kinds = self._kinds(schema)
        return kinds is None or any(_is_kind(instance, kind) for kind in kinds)

    def _property_schema(self, schema: Any, name: str) -> Any:
        """The schema for property ``name`` (through refs and combinators), or None."""
        schema = self._resolve(schema)
        if not isinstance(schema, Mapping):
            return None
        if name in schema.get("properties", {}):
            return schema["properties"][name]
        for key in ("allOf", "anyOf", "oneOf"):
            for part in schema.get(key, []):
                found = self._property_schema(part, name)
                if found is not None:
                    return found
        extra = schema.get("additionalProperties")
        return extra if isinstance(extra, Mapping) else None

    def _items_schema(self, schema: Any) -> Any:
        resolved = self._resolve(schema)
        if isinstance(resolved, Mapping):
            for key in ("anyOf", "oneOf"):
                for part in resolved.get(key, []):
                    kinds = self._kinds(part)
                    if kinds is not None and "array" in kinds:
                        return self._items_schema(part)
            return resolved.get("items", {})
        return {}

    def _tag_values(self, branch: Any, prop: str) -> list[Any]:
        """The values of a discriminator property a union branch accepts."""
        target = self._resolve(self._property_schema(branch, prop))
        if not isinstance(target, Mapping):
            return []
        if "const" in target:
            return [target["const"]]
        if "enum" in target:
            return list(target["enum"])
        values: list[Any] = []
        for part in [*target.get("anyOf", []), *target.get("oneOf", [])]:
            values.extend(self._tag_values({"properties": {prop: part}}, prop))
        return values

    def _declared_properties(self, schema: Any) -> frozenset[str] | None:
        """The top-level property names a body schema declares (``None``: open-ended)."""
        schema = self._resolve(schema)
        if (
            not isinstance(schema, Mapping)
            or schema.get("additionalProperties", False) is not False
        ):
            return None
        names = set(schema.get("properties", {}))
        for key in ("allOf", "anyOf", "oneOf"):
            for part in schema.get(key, []):
                more = self._declared_properties(part)
                if more is None:
                    return None
                names |= more
        return frozenset(names)

    def _is_binary(self, schema: Any, *, only: bool = False) -> bool:
        """Whether a schema admits file content (``only``: nothing but file content)."""
        schema = self._resolve(schema)
        if not isinstance(schema, Mapping):
            return False
        if schema.get("format") == "binary" or "contentMediaType" in schema:
            return True
        branches = [*schema.get("anyOf", []), *schema.get("oneOf", [])]
        if not branches:
            return False
        test = all if only else any
        return test(self._is_binary(b, only=only) for b in branches)

    # ----------------------------------------------------------------- decoding

    def _coerce_text(self, text: str, schema: Any) -> Any:
        """Text from a form or query string, as the type the schema wants.

        A digit string becomes an integer where the schema admits integers (even
        beside strings, as in ``"auto" | integer``): a form can't say which was meant.
        """
        kinds = self._kinds(schema)
        if kinds is None:
            return text
        for kind, convert in _TEXT_CONVERSIONS:
            if kind in kinds:
                value = convert(text, kinds)
                if value is not _MISSING:
                    return value
        return text

    def _decode_query_param(
        self, name: str, param: Mapping[str, Any], pairs: Sequence[tuple[str, str]]
    ) -> Any:
        """One parameter's value from query pairs (``_MISSING`` when absent)."""
        schema = param["schema"]
        kinds = self._kinds(schema) or frozenset()
        style = param.get("style", "form")
        plain = [v for k, v in pairs if k == name]
        if "object" in kinds and style == "deepObject":
            prefix = f"{name}["
            nested = {
                k[len(prefix) : -1]: v for k, v in pairs if k.startswith(prefix) and k.endswith("]")
            }
            if nested:
                return {
                    key: self._coerce_text(value, self._property_schema(schema, key) or {})
                    for key, value in nested.items()
                }
        elif "array" in kinds:
            values = plain + [v for k, v in pairs if k == f"{name}[]"]
            if values and not param.get("explode", style == "form"):
                values = [part for value in values for part in value.split(",")]
            items = self._items_schema(schema)
            return [self._coerce_text(v, items) for v in values] if values else _MISSING
        # A scalar (or a deepObject given plainly, e.g. metadata=null); the last wins.
        return self._coerce_text(plain[-1], schema) if plain else _MISSING

    def _decode_form(self, form: FormInput, schema: Any, problems: list[Problem]) -> dict[str, Any]:
        """Multipart fields -> a JSON-like instance (files as :class:`_FileValue`)."""
        decoded = self._coerce_form_value(_form_tree(form), schema, [], problems)
        return decoded if isinstance(decoded, dict) else {}

    def _coerce_form_value(
        self, value: Any, schema: Any, path: list[object], problems: list[Problem]
    ) -> Any:
        kinds = self._kinds(schema)
        wants_array = kinds is not None and "array" in kinds
        if isinstance(value, _Repeated) and not wants_array:
            value = value[-1]  # a scalar field given several times: the last wins
        if isinstance(value, dict) and wants_array and value and all(k.isdigit() for k in value):
            value = _Repeated(value[k] for k in sorted(value, key=int))  # a[0]=x&a[1]=y
        if isinstance(value, _Repeated):
            items = self._items_schema(schema)
            return [
                self._coerce_form_value(v, items, [*path, i], problems) for i, v in enumerate(value)
            ]
        if isinstance(value, dict):
            return {
                key: self._coerce_form_value(
                    item, self._property_schema(schema, key) or {}, [*path, key], problems
                )
                for key, item in value.items()
            }
        if isinstance(value, str):
            if not self._is_binary(schema, only=True):
                return self._coerce_text(value, schema)
            problems.append(_wrong_type("body", path, ["file"], value))
            return _FileValue(value)
        wrapped = _FileValue(value)
        if not self._is_binary(schema):
            problems.append(_wrong_type("body", path, sorted(kinds or {"string"}), wrapped))
        return wrapped
