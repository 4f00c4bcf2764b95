"""Problems: how a request breaks the API description, worded as OpenAI's API words its
HTTP 400 answers (message, ``param`` in OpenAI's notation, code), from the errors
:mod:`jsonschema` reports, with a failed ``anyOf``/``oneOf`` explained through the branch
the caller meant.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

from jsonschema.exceptions import best_match

from ftsdk_emulator.openapi.schema import SchemaIndex, _instance_kind

__all__ = ["ERROR_TYPE", "Location", "Problem"]

#: The ``error.type`` OpenAI uses for every request validation failure.
ERROR_TYPE: Final = "invalid_request_error"

#: Where a problem was found.
Location: TypeAlias = Literal["body", "query"]

# Error codes OpenAI returns for schema violations (others are built per keyword).
MISSING_REQUIRED_PARAMETER: Final = "missing_required_parameter"
UNKNOWN_PARAMETER: Final = "unknown_parameter"
INVALID_TYPE: Final = "invalid_type"
INVALID_VALUE: Final = "invalid_value"

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
_CODE_RANK: Final = {MISSING_REQUIRED_PARAMETER: 0, UNKNOWN_PARAMETER: 1, INVALID_TYPE: 2}


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


# ------------------------------------------------------------------------ unions


def _explain_all(index: SchemaIndex, errors: Iterable[Any], location: Location) -> list[Problem]:
    """Word jsonschema errors as problems, without duplicates."""
    problems: list[Problem] = []
    seen: set[tuple[str, str | None]] = set()
    for error in errors:
        for problem in _explain(index, error, location):
            if (problem.pointer, problem.code) not in seen:
                seen.add((problem.pointer, problem.code))
                problems.append(problem)
    return problems


def _explain(index: SchemaIndex, error: Any, location: Location) -> list[Problem]:
    """Word one jsonschema error (for unions: the errors of the branch meant)."""
    path = list(error.absolute_path)
    if error.validator in ("anyOf", "oneOf") and error.context:
        return _explain_union(index, error, path, location)
    explainer = _EXPLAINERS.get(error.validator)
    if explainer is not None:
        return explainer(error, path, location)
    message = f"Invalid{_subject(path, location)}: {error.message}"
    return [_make_problem(location, path, message, INVALID_VALUE)]


def _explain_union(
    index: SchemaIndex, error: Any, path: list[object], location: Location
) -> list[Problem]:
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
            return _explain_discriminated(
                index,
                prop=prop,
                branches=branches,
                by_branch=by_branch,
                instance=instance,
                path=path,
                location=location,
            )

    chosen = [i for i, branch in enumerate(branches) if index.admits_kind(branch, instance)]
    if not chosen:
        expected = [kind for branch in branches for kind in sorted(index.kinds(branch) or ())]
        return [_wrong_type(location, path, expected, instance)]
    if len(chosen) > 1:
        mismatches = {i: [e for e in by_branch.get(i, []) if _is_tag_mismatch(e)] for i in chosen}
        untagged = [i for i in chosen if not mismatches[i]]
        tags = {e.relative_path[0] for found in mismatches.values() for e in found}
        if not untagged and len(tags) == 1:  # an unknown tag value, e.g. a grader type
            (tag,) = tags
            allowed = [v for found in mismatches.values() for e in found for v in _tags(e)]
            return [_wrong_value(location, [*path, tag], instance[tag], allowed)]
        chosen = untagged or chosen
    if len(chosen) == 1:
        return _explain_all(index, by_branch.get(chosen[0], []), location)
    best = best_match([e for i in chosen for e in by_branch.get(i, [])])
    if best is None:  # pragma: no cover - a failed union always has branch errors
        return [
            _make_problem(
                location, path, f"Invalid value{_subject(path, location)}.", INVALID_VALUE
            )
        ]
    return _explain(index, best, location)


def _explain_discriminated(
    index: SchemaIndex,
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
    tags = [index.tag_values(branch, prop) for branch in branches]
    chosen = [i for i, values in enumerate(tags) if instance[prop] in values]
    if not chosen:
        return [_wrong_value(location, [*path, prop], instance[prop], [v for t in tags for v in t])]
    return _explain_all(index, by_branch.get(chosen[0], []), location)
