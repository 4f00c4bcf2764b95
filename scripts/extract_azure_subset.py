"""Extract what the emulator's strict mode checks of Azure OpenAI requests, per API version.

Usage::

    python scripts/extract_azure_subset.py specs/azure emulator/ftsdk_emulator/azure-subset.json

For the operations the emulator serves, from ``specs/azure/`` (see ``specs/SOURCES.md``):
the query parameters each defines, the body fields it defines (JSON or multipart form) and
which are required; plus the fields of the fine-tuning job and file objects each version
answers with, so the emulator answers with those and no others. Names only: no schemas.
The output is JSON with sorted keys, so the same input gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

__all__ = ["OPERATIONS", "extract", "main"]

OPERATIONS = (
    "GET /files",
    "POST /files",
    "GET /files/{file_id}",
    "DELETE /files/{file_id}",
    "POST /uploads",
    "POST /uploads/{upload_id}/parts",
    "POST /uploads/{upload_id}/complete",
    "POST /uploads/{upload_id}/cancel",
    "GET /fine_tuning/jobs",
    "POST /fine_tuning/jobs",
    "GET /fine_tuning/jobs/{job_id}",
    "POST /fine_tuning/jobs/{job_id}/cancel",
    "POST /fine_tuning/jobs/{job_id}/pause",
    "POST /fine_tuning/jobs/{job_id}/resume",
    "GET /fine_tuning/jobs/{job_id}/events",
    "GET /fine_tuning/jobs/{job_id}/checkpoints",
    "GET /models",
)
SOURCES = {
    "2024-10-21": "dataplane-authoring-2024-10-21/azureopenai.json",
    "v1": "dataplane-v1/azure-v1-v1-generated.yaml",
}
LIVE_ADDITIONS = {"v1": {"POST /fine_tuning/jobs": ["trainingType"]}}
"""Fields the live service takes that the copied edition does not list, each with its
source: ``trainingType`` (the training tier), which Azure requires on job creation
(BerriAI/litellm PR #24687, tested end to end on Azure; Azure/azure-sdk-for-python PR
#44026 proposed it for azure-ai-projects). Kept apart so the excerpt stays faithful."""
OBJECTS = {
    "2024-10-21": {"job": "FineTuningJob", "file": "File", "file_list": "FileList"},
    "v1": {
        "job": "OpenAI.FineTuningJob",
        "file": "AzureOpenAIFile",
        "file_list": "AzureListFilesResponse",
    },
}


def _template(path: str) -> str:
    """The spec's path with the emulator's parameter names (``{file-id}`` → ``{file_id}``)."""
    for theirs, ours in (
        ("{file-id}", "{file_id}"),
        ("{upload-id}", "{upload_id}"),
        ("{fine-tuning-job-id}", "{job_id}"),
        ("{fine_tuning_job_id}", "{job_id}"),
    ):
        path = path.replace(theirs, ours)
    return path


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part] if isinstance(target, dict) and part in target else {}
        node = target
    return node


def _fields(spec: dict[str, Any], schema: Any) -> tuple[list[str], list[str]]:
    schema = _resolve(spec, schema) or {}
    props = dict(schema.get("properties", {}))
    required = list(schema.get("required", []))
    for part in schema.get("allOf", []):
        more, need = _fields(spec, part)
        props.update(dict.fromkeys(more))
        required += need
    return sorted(props), sorted(set(required))


def _operation(spec: dict[str, Any], op: dict[str, Any], shared: list[Any]) -> dict[str, Any]:
    query: set[str] = set()
    body: list[str] = []
    required: list[str] = []
    for ref in [*shared, *op.get("parameters", [])]:
        param = _resolve(spec, ref)
        where = param.get("in")
        if where == "query" and param["name"] != "api-version":
            query.add(param["name"])
        elif where == "body":  # Swagger 2.0
            body, required = _fields(spec, param.get("schema"))
        elif where == "formData":  # Swagger 2.0
            body.append(param["name"])
            if param.get("required"):
                required.append(param["name"])
    content = (op.get("requestBody") or {}).get("content", {})  # OpenAPI 3
    for media in ("application/json", "multipart/form-data"):
        if media in content:
            body, required = _fields(spec, content[media].get("schema"))
    return {"query": sorted(query), "body": sorted(body), "required": sorted(required)}


def extract(folder: Path) -> dict[str, Any]:
    """The subset, from the spec files under ``folder``."""
    subset: dict[str, Any] = {}
    for version, name in SOURCES.items():
        raw = (folder / name).read_bytes()
        spec = json.loads(raw) if name.endswith(".json") else yaml.safe_load(raw)
        operations: dict[str, Any] = {}
        for path, item in spec["paths"].items():
            for method, op in item.items():
                if method == "parameters" or not isinstance(op, dict):
                    continue
                key = f"{method.upper()} {_template(path)}"
                if key in OPERATIONS:
                    operations[key] = _operation(spec, op, item.get("parameters", []))
        schemas = spec.get("definitions") or spec["components"]["schemas"]
        objects = {
            label: _fields(spec, schemas[schema])[0] for label, schema in OBJECTS[version].items()
        }
        for key, extra in LIVE_ADDITIONS.get(version, {}).items():
            operations[key]["body"] = sorted({*operations[key]["body"], *extra})
            operations[key]["live_additions"] = sorted(extra)
        subset[version] = {
            "source": f"specs/azure/{name}",
            "md5": hashlib.md5(raw).hexdigest(),
            "operations": operations,
            "objects": objects,
        }
    return subset


def main(argv: list[str]) -> None:
    """``extract_azure_subset.py SPECS_FOLDER OUTPUT``."""
    folder, out = Path(argv[1]), Path(argv[2])
    out.write_text(json.dumps(extract(folder), indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv)
