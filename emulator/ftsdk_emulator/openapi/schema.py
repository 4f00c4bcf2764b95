"""OpenAPI schemas as JSON Schema: :func:`normalize_schema` rewrites OpenAPI 3.0 idioms into
JSON Schema 2020-12, and :class:`SchemaIndex` answers what the validator asks of the
normalized component schemas (``$ref`` s followed, the JSON types a schema admits, the
schema of a property or of array items, discriminator tags, which fields are files).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["SchemaIndex", "normalize_schema"]

_SCHEMA_PREFIX: Final = "#/components/schemas/"

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
_NUMBER_TEXT: Final = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


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


# ---------------------------------------------------------------------- JSON types


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


# -------------------------------------------------------------------- the schemas


class SchemaIndex:
    """The normalized component schemas of a subset, and questions answered about them.

    Args:
        schemas: component schemas by name, already normalized (:func:`normalize_schema`).
    """

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self.schemas = schemas
        # id(schema) -> (schema, kinds); holding the schema keeps its id from being reused.
        self._kinds_cache: dict[int, tuple[Any, frozenset[str] | None]] = {}

    def resolve(self, schema: Any) -> Any:
        """Follow ``$ref`` s into the normalized component schemas."""
        for _ in range(64):
            ref = schema.get("$ref") if isinstance(schema, Mapping) else None
            if not isinstance(ref, str) or not ref.startswith(_SCHEMA_PREFIX):
                return schema
            schema = self.schemas.get(ref[len(_SCHEMA_PREFIX) :], {})
        return schema

    def kinds(self, schema: Any) -> frozenset[str] | None:
        """The JSON types a schema admits (``None``: any)."""
        cached = self._kinds_cache.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        self._kinds_cache[id(schema)] = (schema, None)  # guards against recursion
        kinds = self._compute_kinds(self.resolve(schema))
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
            found = [self.kinds(branch) for branch in branches]
            return None if None in found else frozenset().union(*(k for k in found if k))
        parts = [k for k in (self.kinds(p) for p in schema.get("allOf", [])) if k is not None]
        return parts[0] if parts else None

    def admits_kind(self, schema: Any, instance: Any) -> bool:
        """Whether ``schema`` admits the JSON type of ``instance``."""
        kinds = self.kinds(schema)
        return kinds is None or any(_is_kind(instance, kind) for kind in kinds)

    def property_schema(self, schema: Any, name: str) -> Any:
        """The schema for property ``name`` (through refs and combinators), or None."""
        schema = self.resolve(schema)
        if not isinstance(schema, Mapping):
            return None
        if name in schema.get("properties", {}):
            return schema["properties"][name]
        for key in ("allOf", "anyOf", "oneOf"):
            for part in schema.get(key, []):
                found = self.property_schema(part, name)
                if found is not None:
                    return found
        extra = schema.get("additionalProperties")
        return extra if isinstance(extra, Mapping) else None

    def items_schema(self, schema: Any) -> Any:
        """The schema of an array's items (through refs and a union's array branch)."""
        resolved = self.resolve(schema)
        if isinstance(resolved, Mapping):
            for key in ("anyOf", "oneOf"):
                for part in resolved.get(key, []):
                    kinds = self.kinds(part)
                    if kinds is not None and "array" in kinds:
                        return self.items_schema(part)
            return resolved.get("items", {})
        return {}

    def tag_values(self, branch: Any, prop: str) -> list[Any]:
        """The values of a discriminator property a union branch accepts."""
        target = self.resolve(self.property_schema(branch, prop))
        if not isinstance(target, Mapping):
            return []
        if "const" in target:
            return [target["const"]]
        if "enum" in target:
            return list(target["enum"])
        values: list[Any] = []
        for part in [*target.get("anyOf", []), *target.get("oneOf", [])]:
            values.extend(self.tag_values({"properties": {prop: part}}, prop))
        return values

    def declared_properties(self, schema: Any) -> frozenset[str] | None:
        """The top-level property names a body schema declares (``None``: open-ended)."""
        schema = self.resolve(schema)
        if (
            not isinstance(schema, Mapping)
            or schema.get("additionalProperties", False) is not False
        ):
            return None
        names = set(schema.get("properties", {}))
        for key in ("allOf", "anyOf", "oneOf"):
            for part in schema.get(key, []):
                more = self.declared_properties(part)
                if more is None:
                    return None
                names |= more
        return frozenset(names)

    def is_binary(self, schema: Any, *, only: bool = False) -> bool:
        """Whether a schema admits file content (``only``: nothing but file content)."""
        schema = self.resolve(schema)
        if not isinstance(schema, Mapping):
            return False
        if schema.get("format") == "binary" or "contentMediaType" in schema:
            return True
        branches = [*schema.get("anyOf", []), *schema.get("oneOf", [])]
        if not branches:
            return False
        test = all if only else any
        return test(self.is_binary(b, only=only) for b in branches)
