"""The validator: :class:`RequestValidator` loads a subset of OpenAI's OpenAPI description
(written by ``scripts/extract_openai_subset.py``), compiles a JSON Schema validator per
request schema, and checks request bodies (JSON or multipart) and query strings against
the operation they call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ftsdk_emulator.openapi.decoding import (
    _MISSING,
    FormInput,
    QueryInput,
    _decode_form,
    _decode_query_param,
    _query_pairs,
    _unwrap_files,
)
from ftsdk_emulator.openapi.paths import PathMatch, match_path_template
from ftsdk_emulator.openapi.problems import (
    Problem,
    _english_list,
    _explain_all,
    _ranked,
    _unknown,
    _within,
)
from ftsdk_emulator.openapi.schema import SchemaIndex, normalize_schema

__all__ = [
    "JSON_CONTENT_TYPE",
    "MULTIPART_CONTENT_TYPE",
    "RequestValidator",
    "UnknownOperationError",
]

JSON_CONTENT_TYPE: Final = "application/json"
MULTIPART_CONTENT_TYPE: Final = "multipart/form-data"

_SUBSET_URI: Final = "urn:ftsdk:openai-openapi-subset"


class UnknownOperationError(LookupError):
    """The subset has no such operation (method and path template)."""


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
        self._index = SchemaIndex(self._schemas)
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
            value = _decode_query_param(self._index, name, param, pairs)
            if value is not _MISSING:
                values[name] = value
        problems: list[Problem] = []
        if operation.query_root is not None:
            errors = self._validators[operation.query_root].iter_errors(values)
            problems = _explain_all(self._index, errors, "query")
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
            instance = _decode_form(self._index, form if form is not None else {}, schema, problems)
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
            for p in _explain_all(self._index, errors, "body")
            if not any(_within(p.pointer, r) for r in reported)
        )
        if (
            self._reject_unknown
            and content_type == JSON_CONTENT_TYPE
            and isinstance(instance, dict)
        ):
            declared = self._index.declared_properties(schema)
            if declared is not None:
                problems.extend(_unknown([key], "body") for key in instance if key not in declared)
        if content_type == MULTIPART_CONTENT_TYPE:
            instance = _unwrap_files(instance)
        return instance, _ranked(problems)

    # ----------------------------------------------------------- error wording
