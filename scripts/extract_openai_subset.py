"""Extract the request-validation subset of OpenAI's OpenAPI description.

Usage::

    python scripts/extract_openai_subset.py ../shared/specs/openai-openapi.yaml \\
        emulator/ftsdk_emulator/openai-subset.json

The subset keeps, for a fixed list of operations (see :data:`OPERATIONS`), what is
needed to validate requests: the request body schema per content type, the
parameters (query and path) with their schemas, ``required`` flags and
serialisation ``style``/``explode``, and ``components.schemas`` restricted to the
transitive closure of the ``$ref`` s those use.  Schema ``$ref`` s stay refs (they
point into the subset's own ``components.schemas``).  Documentation (``description``,
``title``, ``example`` ...) and vendor extensions (``x-*``) are dropped from schemas.

The output is JSON with sorted keys and compact separators, so the same input gives
byte-identical output.  Schemas are copied as published (OpenAPI 3.0-isms such as
``nullable`` or boolean ``exclusiveMinimum`` included); turning them into valid
JSON Schema 2020-12 is the validator's job (see ``emulator/ftsdk_emulator/openapi/schema.py``),
so that the subset remains a faithful excerpt.

YAML note: PyYAML resolves plain scalars by YAML 1.1 rules, under which a float needs
a signed exponent (``1e+18``); the spec, written for YAML 1.2, has
``minimum: -9.223372036854776e18``, which YAML 1.1 reads as a *string*.  The loader
here adds the YAML 1.2 core-schema float rule so such values load as numbers.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml  # type: ignore[import-untyped]

# The JSON Schema keywords that hold schemas: the validator's own lists, so the two agree.
from ftsdk_emulator.openapi.schema import (
    _SCHEMA_KEYWORDS,
    _SCHEMA_LIST_KEYWORDS,
    _SCHEMA_MAP_KEYWORDS,
)

__all__ = [
    "OPERATIONS",
    "ExtractionError",
    "build_subset",
    "dump_subset",
    "load_spec",
    "main",
]

#: The operations kept, as ``(METHOD, path template)``.
OPERATIONS: Final[tuple[tuple[str, str], ...]] = (
    ("POST", "/files"),
    ("GET", "/files"),
    ("GET", "/files/{file_id}"),
    ("DELETE", "/files/{file_id}"),
    ("GET", "/files/{file_id}/content"),
    ("POST", "/uploads"),
    ("POST", "/uploads/{upload_id}/parts"),
    ("POST", "/uploads/{upload_id}/complete"),
    ("POST", "/uploads/{upload_id}/cancel"),
    ("POST", "/fine_tuning/jobs"),
    ("GET", "/fine_tuning/jobs"),
    ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}"),
    ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/cancel"),
    ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/pause"),
    ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/resume"),
    ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/events"),
    ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints"),
    ("POST", "/fine_tuning/alpha/graders/run"),
    ("POST", "/fine_tuning/alpha/graders/validate"),
    ("GET", "/models"),
    ("GET", "/models/{model}"),
    ("DELETE", "/models/{model}"),
    ("POST", "/chat/completions"),
)

#: Request body media types kept.
CONTENT_TYPES: Final[frozenset[str]] = frozenset({"application/json", "multipart/form-data"})

SCHEMA_REF_PREFIX: Final = "#/components/schemas/"

#: Annotation-only schema keywords dropped from the subset.
_DOC_KEYWORDS: Final[frozenset[str]] = frozenset(
    {"description", "title", "example", "examples", "externalDocs", "$comment"}
)
#: Parameter fields kept.
_PARAMETER_FIELDS: Final[tuple[str, ...]] = (
    "name",
    "in",
    "required",
    "style",
    "explode",
    "allowEmptyValue",
    "allowReserved",
    "deprecated",
)
_HTTP_METHODS: Final[frozenset[str]] = frozenset(
    {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
)

# YAML 1.2 core schema float (PyYAML implements YAML 1.1, whose float needs a
# signed exponent and a dot).  Accepting these as floats matches the spec's intent.
_YAML12_FLOAT: Final = re.compile(
    r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$"
    r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
)


class ExtractionError(ValueError):
    """The spec lacks something the subset needs, or holds something JSON can't."""


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SpecLoader(_BaseLoader):  # type: ignore[misc]
    """Safe YAML loader (libyaml when available) that reads YAML 1.2 floats as floats."""


_SpecLoader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML12_FLOAT, list("-+0123456789."))


def load_spec(path: str | Path) -> tuple[dict[str, Any], float]:
    """Load an OpenAPI YAML file; return the document and the seconds spent parsing."""
    data = Path(path).read_bytes()
    started = time.perf_counter()
    document = yaml.load(data, Loader=_SpecLoader)  # a SafeLoader subclass
    elapsed = time.perf_counter() - started
    if not isinstance(document, dict):
        raise ExtractionError(f"{path}: not an OpenAPI document")
    return document, elapsed


def uses_libyaml() -> bool:
    """Whether :func:`load_spec` parses with libyaml (``yaml.CSafeLoader``)."""
    return hasattr(yaml, "CSafeLoader")


def _resolve_local(document: Mapping[str, Any], ref: str) -> Any:
    """Return the node a local ``#/...`` reference points at."""
    if not ref.startswith("#/"):
        raise ExtractionError(f"only local references are supported, got {ref!r}")
    node: Any = document
    for raw in ref[2:].split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise ExtractionError(f"unresolvable reference {ref!r}")
    return node


def _deref(document: Mapping[str, Any], node: Any) -> Any:
    """Follow non-schema ``$ref`` s (parameters, request bodies) to their target."""
    seen: set[str] = set()
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen:
            raise ExtractionError(f"reference cycle at {ref!r}")
        seen.add(ref)
        node = _resolve_local(document, ref)
    return node


def _check_json(value: Any, where: str) -> Any:
    """Raise if a YAML value is not plain JSON (dates, non-string keys, ...)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{where}/{index}")
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ExtractionError(f"{where}: non-string key {key!r}")
            _check_json(item, f"{where}/{key}")
        return value
    raise ExtractionError(f"{where}: {type(value).__name__} value {value!r} is not JSON")


def clean_schema(schema: Any, where: str = "#") -> Any:
    """Return a copy of ``schema`` without documentation keywords and ``x-*`` extensions.

    Only keyword positions are cleaned: a property *named* ``description`` is kept.
    """
    if not isinstance(schema, Mapping):
        return _check_json(schema, where)  # boolean schemas
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if not isinstance(key, str):
            raise ExtractionError(f"{where}: non-string key {key!r}")
        if key in _DOC_KEYWORDS or key.startswith("x-"):
            continue
        here = f"{where}/{key}"
        if key in _SCHEMA_MAP_KEYWORDS and isinstance(value, Mapping):
            cleaned[key] = {
                name: clean_schema(sub, f"{here}/{name}") for name, sub in value.items()
            }
        elif key in _SCHEMA_KEYWORDS and isinstance(value, Mapping | bool):
            cleaned[key] = clean_schema(value, here)
        elif key in _SCHEMA_LIST_KEYWORDS or (key == "items" and isinstance(value, list)):
            cleaned[key] = [clean_schema(sub, f"{here}/{i}") for i, sub in enumerate(value)]
        elif key == "discriminator" and isinstance(value, Mapping):
            cleaned[key] = {
                k: _check_json(v, f"{here}/{k}") for k, v in value.items() if not k.startswith("x-")
            }
        else:
            cleaned[key] = _check_json(value, here)
    return cleaned


def _schema_refs(schema: Any) -> Iterator[str]:
    """Yield every ``$ref`` value inside a (cleaned) schema."""
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _schema_refs(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _schema_refs(item)


def _parameters(
    document: Mapping[str, Any], path_item: Mapping[str, Any], operation: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Merge path-level and operation-level parameters (operation wins), cleaned."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*path_item.get("parameters", []), *operation.get("parameters", [])]:
        param = _deref(document, raw)
        name, location = param.get("name"), param.get("in")
        if not isinstance(name, str) or location not in ("query", "path", "header", "cookie"):
            raise ExtractionError(f"malformed parameter {param!r}")
        if location in ("header", "cookie"):
            continue
        kept: dict[str, Any] = {k: param[k] for k in _PARAMETER_FIELDS if k in param}
        kept["required"] = bool(param.get("required", location == "path"))
        if "schema" in param:
            kept["schema"] = clean_schema(param["schema"], f"parameter {name}")
        elif "content" in param:
            raise ExtractionError(f"parameter {name!r} uses 'content', which is not supported")
        merged[(location, name)] = kept
    return sorted(merged.values(), key=lambda p: (p["in"], p["name"]))


def _request_body(
    document: Mapping[str, Any], operation: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The cleaned request body (kept media types only), or None if there is none."""
    if "requestBody" not in operation:
        return None
    body = _deref(document, operation["requestBody"])
    content: dict[str, Any] = {}
    for media_type, media in body.get("content", {}).items():
        if media_type not in CONTENT_TYPES:
            continue
        entry: dict[str, Any] = {"schema": clean_schema(media.get("schema", {}), media_type)}
        if "encoding" in media:
            entry["encoding"] = _check_json(media["encoding"], f"{media_type}/encoding")
        content[media_type] = entry
    if not content:
        return None
    return {"required": bool(body.get("required", False)), "content": content}


def build_subset(
    spec: Mapping[str, Any], operations: Sequence[tuple[str, str]] = OPERATIONS
) -> dict[str, Any]:
    """Build the subset document for ``operations`` from a loaded OpenAPI ``spec``."""
    paths = spec.get("paths")
    schemas = spec.get("components", {}).get("schemas", {})
    if not isinstance(paths, Mapping) or not isinstance(schemas, Mapping):
        raise ExtractionError("spec has no 'paths' or no 'components.schemas'")

    missing = [f"{m} {p}" for m, p in operations if m.lower() not in paths.get(p, {})]
    if missing:
        raise ExtractionError(f"operations not in the spec: {', '.join(missing)}")

    kept_operations: dict[str, Any] = {}
    for method, template in operations:
        path_item = _deref(spec, paths[template])
        operation = path_item[method.lower()]
        entry: dict[str, Any] = {
            "method": method.upper(),
            "path": template,
            "parameters": _parameters(spec, path_item, operation),
        }
        if "operationId" in operation:
            entry["operationId"] = operation["operationId"]
        body = _request_body(spec, operation)
        if body is not None:
            entry["requestBody"] = body
        kept_operations[f"{method.upper()} {template}"] = entry

    # Closure of schema references.
    wanted: list[str] = list(_schema_refs(kept_operations))
    closure: dict[str, Any] = {}
    while wanted:
        ref = wanted.pop()
        if not ref.startswith(SCHEMA_REF_PREFIX):
            raise ExtractionError(f"schema reference outside components.schemas: {ref!r}")
        name = ref[len(SCHEMA_REF_PREFIX) :].replace("~1", "/").replace("~0", "~")
        if name in closure:
            continue
        if name not in schemas:
            raise ExtractionError(f"dangling schema reference {ref!r}")
        closure[name] = clean_schema(schemas[name], ref)
        wanted.extend(_schema_refs(closure[name]))

    info = spec.get("info", {})
    return {
        "openapi": spec.get("openapi"),
        "info": {"title": info.get("title"), "version": info.get("version")},
        "operations": kept_operations,
        "components": {"schemas": closure},
    }


def dump_subset(subset: Mapping[str, Any]) -> bytes:
    """Serialise deterministically: sorted keys, compact separators, ASCII, final newline."""
    text = json.dumps(subset, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return text.encode("ascii") + b"\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``extract.py SPEC OUT.json``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        sys.stderr.write("usage: extract.py SPEC.yaml OUT.json\n")
        return 2
    spec_path, out_path = Path(args[0]), Path(args[1])
    raw = spec_path.read_bytes()
    spec, load_seconds = load_spec(spec_path)
    subset = build_subset(spec)
    subset["info"]["source"] = {
        "file": spec_path.name,
        "bytes": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    data = dump_subset(subset)
    out_path.write_bytes(data)
    loader = "yaml.CSafeLoader (libyaml)" if uses_libyaml() else "yaml.SafeLoader (pure Python)"
    sys.stdout.write(
        f"loaded {spec_path} ({len(raw):,} bytes) in {load_seconds:.3f} s with {loader}\n"
        f"wrote {out_path}: {len(data):,} bytes, {len(subset['operations'])} operations, "
        f"{len(subset['components']['schemas'])} schemas\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
