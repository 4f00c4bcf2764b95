"""Tests for the OpenAPI subset extractor and the request validator.

The ``captured`` fixture runs a throwaway Starlette app on 127.0.0.1 and drives the
real ``openai`` client against it, so the request shapes checked here are the exact
ones ``openai`` sends (and the form parsing is Starlette's, as in the emulator).
"""

from __future__ import annotations

import io
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ftsdk_emulator import openapi as validate
from ftsdk_emulator.openapi import FilePart, Problem, RequestValidator, normalize_schema

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "specs" / "openai-openapi.yaml"
SUBSET = ROOT / "emulator" / "ftsdk_emulator" / "openai-subset.json"


def _load_extract() -> Any:
    """scripts/extract_openai_subset.py, imported as a module."""
    import importlib.util

    location = ROOT / "scripts" / "extract_openai_subset.py"
    spec = importlib.util.spec_from_file_location("extract_openai_subset", location)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


extract = _load_extract()
JOBS = "/fine_tuning/jobs"
CHAT = "/chat/completions"


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document, _ = extract.load_spec(SPEC)
    return document


@pytest.fixture(scope="module")
def subset(spec: dict[str, Any]) -> dict[str, Any]:
    return extract.build_subset(spec)


@pytest.fixture(scope="module")
def validator() -> RequestValidator:
    return RequestValidator.from_file(SUBSET)


@pytest.fixture(scope="module")
def strict_validator() -> RequestValidator:
    return RequestValidator.from_file(SUBSET, reject_unknown_body_fields=True)


def job(**fields: Any) -> dict[str, Any]:
    """A job-create body with the required fields."""
    return {"model": "gpt-4o-mini", "training_file": "file-abc", **fields}


def sft(**hyperparameters: Any) -> dict[str, Any]:
    return job(method={"type": "supervised", "supervised": {"hyperparameters": hyperparameters}})


def dpo(**hyperparameters: Any) -> dict[str, Any]:
    return job(method={"type": "dpo", "dpo": {"hyperparameters": hyperparameters}})


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], **fields}


def first(problems: list[Problem]) -> Problem:
    assert problems, "expected the request to be rejected"
    return problems[0]


# -------------------------------------------------------------------------- extraction


def test_subset_has_exactly_the_operations(subset: dict[str, Any]) -> None:
    assert sorted(subset["operations"]) == sorted(f"{m} {p}" for m, p in extract.OPERATIONS)
    body = subset["operations"]["POST /files"]["requestBody"]
    assert list(body["content"]) == ["multipart/form-data"]
    assert subset["operations"]["POST /fine_tuning/jobs"]["requestBody"]["required"] is True
    metadata = next(
        p
        for p in subset["operations"]["GET /fine_tuning/jobs"]["parameters"]
        if p["name"] == "metadata"
    )
    assert (metadata["style"], metadata["explode"], metadata["required"]) == (
        "deepObject",
        True,
        False,
    )


def test_subset_is_deterministic_and_current(subset: dict[str, Any], spec: dict[str, Any]) -> None:
    again = extract.build_subset(spec)
    assert extract.dump_subset(subset) == extract.dump_subset(again)
    on_disk = json.loads(SUBSET.read_text())
    on_disk["info"].pop("source")
    assert on_disk == json.loads(extract.dump_subset(subset)), "re-run extract.py"


def test_cli_output_is_byte_identical(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert extract.main([str(SPEC), str(tmp_path / "a.json")]) == 0
    assert extract.main([str(SPEC), str(tmp_path / "b.json")]) == 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert (tmp_path / "a.json").read_bytes() == SUBSET.read_bytes()
    assert "bytes" in capsys.readouterr().out


def _walk_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _walk_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_refs(item)


def test_ref_closure_is_complete_and_minimal(subset: dict[str, Any]) -> None:
    schemas = subset["components"]["schemas"]
    refs = set(_walk_refs(subset))
    assert all(ref.startswith("#/components/schemas/") for ref in refs)
    assert {ref.rsplit("/", 1)[1] for ref in refs} == set(schemas)


def test_documentation_and_extensions_are_dropped(subset: dict[str, Any]) -> None:
    def keyword_positions(schema: Any) -> Iterator[str]:
        if not isinstance(schema, dict):
            return
        for key, value in schema.items():
            yield key
            if key in ("properties", "patternProperties") and isinstance(value, dict):
                for sub in value.values():
                    yield from keyword_positions(sub)
            elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
                yield from keyword_positions(value)
            elif key in ("anyOf", "oneOf", "allOf"):
                for sub in value:
                    yield from keyword_positions(sub)

    for schema in subset["components"]["schemas"].values():
        keys = set(keyword_positions(schema))
        assert not keys & {"description", "title", "example", "examples"}
        assert not any(k.startswith("x-") for k in keys)
    # A property *named* like a doc keyword survives.
    assert "description" in subset["components"]["schemas"]["FunctionObject"]["properties"]


def test_yaml12_floats_load_as_numbers(subset: dict[str, Any]) -> None:
    """PyYAML (YAML 1.1) reads ``9.223372036854776e18`` as a string; we read a float."""
    seed = subset["components"]["schemas"]["CreateChatCompletionRequest"]["allOf"][1]["properties"][
        "seed"
    ]
    assert seed["minimum"] == -9.223372036854776e18
    assert seed["maximum"] == 9.223372036854776e18


def test_extraction_rejects_unknown_operations(spec: dict[str, Any]) -> None:
    with pytest.raises(extract.ExtractionError, match="GET /nope"):
        extract.build_subset(spec, [("GET", "/nope")])


# ------------------------------------------------------------------------ normalization


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string", "nullable": True}, {"type": ["string", "null"]}),
        (
            {"type": "string", "enum": ["a"], "nullable": True},
            {"type": ["string", "null"], "enum": ["a", None]},
        ),
        (
            {"$ref": "#/x", "nullable": True},
            {"anyOf": [{"$ref": "#/x"}, {"type": "null"}]},
        ),
        (
            {"anyOf": [{"type": "string"}], "nullable": True},
            {"anyOf": [{"anyOf": [{"type": "string"}]}, {"type": "null"}]},
        ),
        ({"nullable": True, "default": 1}, {"default": 1}),
        ({"type": "integer", "nullable": False}, {"type": "integer"}),
        (
            {"type": "number", "minimum": 0, "exclusiveMinimum": True},
            {"type": "number", "exclusiveMinimum": 0},
        ),
        (
            {"type": "number", "maximum": 2, "exclusiveMaximum": False},
            {"type": "number", "maximum": 2},
        ),
        (
            {"type": "integer", "minimum": "-9.2e18"},
            {"type": "integer", "minimum": -9200000000000000000},
        ),
        # Property names and enum data are not keywords.
        (
            {"properties": {"nullable": {"type": "boolean"}}, "enum": [{"nullable": True}]},
            {"properties": {"nullable": {"type": "boolean"}}, "enum": [{"nullable": True}]},
        ),
    ],
)
def test_normalize_schema(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert normalize_schema(schema) == expected


def test_normalized_schemas_are_valid_2020_12(validator: RequestValidator) -> None:
    """The spec's raw schemas fail the 2020-12 metaschema (boolean exclusiveMinimum)."""
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    for schema in validator.schemas.values():
        Draft202012Validator.check_schema(schema)


# ----------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("path", "template", "params"),
    [
        (
            "/v1/fine_tuning/jobs/ftjob-abc/events",
            "/fine_tuning/jobs/{fine_tuning_job_id}/events",
            {"fine_tuning_job_id": "ftjob-abc"},
        ),
        (
            "/fine_tuning/jobs/ftjob-abc/events",
            "/fine_tuning/jobs/{fine_tuning_job_id}/events",
            {"fine_tuning_job_id": "ftjob-abc"},
        ),
        ("/v1/fine_tuning/jobs", "/fine_tuning/jobs", {}),
        ("/v1/fine_tuning/jobs/", "/fine_tuning/jobs", {}),
        ("/v1/fine_tuning/jobs?limit=2", "/fine_tuning/jobs", {}),
        ("/v1/files/file-1/content", "/files/{file_id}/content", {"file_id": "file-1"}),
        (
            "/v1/models/ft%3Agpt-4o-mini%3Aorg%3A%3Aabc",
            "/models/{model}",
            {"model": "ft:gpt-4o-mini:org::abc"},
        ),
        ("/v1/uploads/upload_1/parts", "/uploads/{upload_id}/parts", {"upload_id": "upload_1"}),
    ],
)
def test_match_path(
    validator: RequestValidator, path: str, template: str, params: dict[str, str]
) -> None:
    match = validator.match_path(path)
    assert match is not None
    assert (match.template, dict(match.params)) == (template, params)


def test_match_path_unknown_and_methods(validator: RequestValidator) -> None:
    assert validator.match_path("/v1/assistants") is None
    assert validator.match_path("/v1/fine_tuning/jobs/a/b/c") is None
    match = validator.match_path("/v1/files/file-1")
    assert match is not None
    assert match.methods == {"GET", "DELETE"}
    match = validator.match_path("/v1/files")
    assert match is not None
    assert match.methods == {"GET", "POST"}


def test_unknown_operation_raises(validator: RequestValidator) -> None:
    with pytest.raises(validate.UnknownOperationError):
        validator.validate("PUT", JOBS, json_body={})


# ----------------------------------------------------------------- fine-tuning jobs


@pytest.mark.parametrize(
    "body",
    [
        job(),
        sft(n_epochs=3),
        sft(n_epochs="auto", batch_size=8, learning_rate_multiplier=0.5),
        sft(n_epochs=50, batch_size="auto", learning_rate_multiplier="auto"),
        dpo(beta=0.1),
        dpo(beta=2, n_epochs=1, learning_rate_multiplier=1.8, batch_size=256),
        dpo(beta="auto"),
        job(method={"type": "supervised"}),
        job(
            method={
                "type": "reinforcement",
                "reinforcement": {
                    "grader": {
                        "type": "string_check",
                        "name": "g",
                        "input": "{{sample.output_text}}",
                        "reference": "{{item.answer}}",
                        "operation": "eq",
                    },
                    "hyperparameters": {"compute_multiplier": 0.5, "reasoning_effort": "low"},
                },
            }
        ),
        job(metadata={"team": "ml", "run": "7"}),
        job(metadata=None),
        job(
            integrations=[
                {
                    "type": "wandb",
                    "wandb": {"project": "p", "name": None, "entity": "e", "tags": ["a"]},
                }
            ]
        ),
        job(integrations=None),
        job(validation_file="file-val"),
        job(validation_file=None),
        job(suffix="my-model"),
        job(suffix="x" * 64),
        job(suffix=None),
        job(seed=0),
        job(seed=2147483647),
        job(seed=None),
        job(hyperparameters={"n_epochs": 4, "batch_size": "auto"}),  # deprecated but valid
        job(model="ft:gpt-4o-mini:org:custom:abc"),
    ],
)
def test_valid_job_bodies(validator: RequestValidator, body: dict[str, Any]) -> None:
    assert validator.validate("POST", JOBS, json_body=body) == []


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"training_file": "file-abc"}, "model", "missing_required_parameter"),
        ({"model": "gpt-4o-mini"}, "training_file", "missing_required_parameter"),
        (job(training_file=123), "training_file", "invalid_type"),
        (job(training_file=["file-abc"]), "training_file", "invalid_type"),
        (job(model=None), "model", "invalid_type"),
        (job(method={"type": "unsupervised"}), "method.type", "invalid_value"),
        (job(method={"supervised": {}}), "method.type", "missing_required_parameter"),
        (sft(n_epochs=-1), "method.supervised.hyperparameters.n_epochs", "integer_below_min_value"),
        (sft(n_epochs=0), "method.supervised.hyperparameters.n_epochs", "integer_below_min_value"),
        (sft(n_epochs=51), "method.supervised.hyperparameters.n_epochs", "integer_above_max_value"),
        (sft(n_epochs="three"), "method.supervised.hyperparameters.n_epochs", "invalid_value"),
        (sft(n_epochs="3"), "method.supervised.hyperparameters.n_epochs", "invalid_value"),
        (sft(n_epochs=2.5), "method.supervised.hyperparameters.n_epochs", "invalid_type"),
        (sft(n_epochs=True), "method.supervised.hyperparameters.n_epochs", "invalid_type"),
        (
            sft(batch_size=0),
            "method.supervised.hyperparameters.batch_size",
            "integer_below_min_value",
        ),
        (
            sft(learning_rate_multiplier=0),
            "method.supervised.hyperparameters.learning_rate_multiplier",
            "decimal_below_min_value",
        ),
        (dpo(beta=0), "method.dpo.hyperparameters.beta", "decimal_below_min_value"),
        (dpo(beta=2.5), "method.dpo.hyperparameters.beta", "decimal_above_max_value"),
        (dpo(beta="high"), "method.dpo.hyperparameters.beta", "invalid_value"),
        (job(suffix="x" * 65), "suffix", "string_above_max_length"),
        (job(suffix=""), "suffix", "empty_string"),
        (job(seed=-1), "seed", "integer_below_min_value"),
        (job(seed=2**31), "seed", "integer_above_max_value"),
        (job(seed="42"), "seed", "invalid_type"),
        (job(metadata={"team": 1}), "metadata.team", "invalid_type"),
        (job(metadata=["a"]), "metadata", "invalid_type"),
        (job(validation_file=7), "validation_file", "invalid_type"),
        (
            job(integrations=[{"type": "slack", "wandb": {"project": "p"}}]),
            "integrations[0].type",
            "invalid_value",
        ),
        (
            job(integrations=[{"type": "wandb"}]),
            "integrations[0].wandb",
            "missing_required_parameter",
        ),
        (
            job(integrations=[{"type": "wandb", "wandb": {}}]),
            "integrations[0].wandb.project",
            "missing_required_parameter",
        ),
        (
            job(
                method={
                    "type": "reinforcement",
                    "reinforcement": {"grader": {"type": "regex", "name": "g"}},
                }
            ),
            "method.reinforcement.grader.type",
            "invalid_value",
        ),
        (
            job(method={"type": "reinforcement", "reinforcement": {}}),
            "method.reinforcement.grader",
            "missing_required_parameter",
        ),
    ],
)
def test_invalid_job_bodies(validator: RequestValidator, body: Any, param: str, code: str) -> None:
    problem = first(validator.validate("POST", JOBS, json_body=body))
    assert (problem.param, problem.code, problem.location) == (param, code, "body")


def test_job_error_messages_read_like_openai(validator: RequestValidator) -> None:
    assert first(
        validator.validate("POST", JOBS, json_body={"training_file": "f"})
    ).to_error_body() == {
        "error": {
            "message": "Missing required parameter: 'model'.",
            "type": "invalid_request_error",
            "param": "model",
            "code": "missing_required_parameter",
        }
    }
    problem = first(validator.validate("POST", JOBS, json_body=sft(n_epochs=-1)))
    assert problem.message == (
        "Invalid 'method.supervised.hyperparameters.n_epochs': integer below minimum value. "
        "Expected a value >= 1, but got -1 instead."
    )
    assert problem.pointer == "/method/supervised/hyperparameters/n_epochs"
    problem = first(validator.validate("POST", JOBS, json_body=job(method={"type": "ppo"})))
    assert problem.message == (
        "Invalid value: 'ppo'. Supported values are: 'supervised', 'dpo', and 'reinforcement'."
    )
    problem = first(validator.validate("POST", JOBS, json_body=job(training_file=1)))
    assert (
        problem.message
        == "Invalid type for 'training_file': expected a string, but got an integer instead."
    )
    problem = first(validator.validate("POST", JOBS, json_body=sft(n_epochs=2.5)))
    assert problem.message.endswith(
        "expected one of a string or an integer, but got a number instead."
    )
    problem = first(validator.validate("POST", JOBS, json_body=job(suffix="x" * 65)))
    assert problem.message == (
        "Invalid 'suffix': string too long. Expected a string with maximum length 64, "
        "but got a string with length 65 instead."
    )
    problem = first(validator.validate("POST", JOBS, json_body=dpo(beta=0)))
    assert "Expected a value > 0, but got 0 instead." in problem.message


def test_missing_body_reports_missing_fields(validator: RequestValidator) -> None:
    problems = validator.validate("POST", JOBS)
    assert [(p.param, p.code) for p in problems] == [
        ("model", "missing_required_parameter"),
        ("training_file", "missing_required_parameter"),
    ]


def test_non_object_body(validator: RequestValidator) -> None:
    problem = first(validator.validate("POST", JOBS, json_body=[1, 2]))
    assert (problem.param, problem.code, problem.pointer) == (None, "invalid_type", "")
    assert problem.message == "Invalid type: expected an object, but got an array instead."


def test_missing_comes_before_other_problems(validator: RequestValidator) -> None:
    problems = validator.validate("POST", JOBS, json_body={"training_file": 5, "suffix": ""})
    assert [p.code for p in problems] == [
        "missing_required_parameter",
        "invalid_type",
        "empty_string",
    ]


def test_unknown_fields(validator: RequestValidator, strict_validator: RequestValidator) -> None:
    body = job(nepochs=2)
    assert validator.validate("POST", JOBS, json_body=body) == []  # the spec allows extras
    problem = first(strict_validator.validate("POST", JOBS, json_body=body))
    assert (problem.param, problem.code, problem.message) == (
        "nepochs",
        "unknown_parameter",
        "Unknown parameter: 'nepochs'.",
    )
    # allOf-composed schema: fields from every part count as declared.
    assert (
        strict_validator.validate("POST", CHAT, json_body=chat(temperature=1, metadata={"a": "b"}))
        == []
    )
    assert (
        first(strict_validator.validate("POST", CHAT, json_body=chat(reasoning={}))).param
        == "reasoning"
    )


# ------------------------------------------------------------------ chat completions


@pytest.mark.parametrize(
    "body",
    [
        chat(),
        chat(
            messages=[
                {"role": "developer", "content": "be brief"},
                {"role": "system", "content": [{"type": "text", "text": "sys"}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"},
                        },
                    ],
                    "name": "alice",
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "42"},
            ]
        ),
        chat(
            temperature=0.2,
            top_p=1,
            n=2,
            stop=["\n", "END"],
            max_completion_tokens=100,
            seed=2**62,
            logit_bias={"50256": -100},
            stream=True,
            stream_options={"include_usage": True},
            store=None,
            prediction=None,
            frequency_penalty=None,
        ),
        chat(stop="END"),
        chat(stop=None),
        chat(response_format={"type": "json_object"}),
        chat(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "s", "schema": {"type": "object"}, "strict": True},
            }
        ),
        chat(
            tools=[
                {
                    "type": "function",
                    "function": {"name": "f", "parameters": {"type": "object", "properties": {}}},
                }
            ],
            tool_choice="auto",
        ),
        chat(tool_choice={"type": "function", "function": {"name": "f"}}),
        chat(reasoning_effort="low", modalities=["text"], service_tier="auto"),
    ],
)
def test_valid_chat_bodies(validator: RequestValidator, body: dict[str, Any]) -> None:
    assert validator.validate("POST", CHAT, json_body=body) == []


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model", "missing_required_parameter"),
        ({"model": "gpt-4o-mini"}, "messages", "missing_required_parameter"),
        (chat(messages=[]), "messages", "empty_array"),
        (chat(messages="hi"), "messages", "invalid_type"),
        (chat(messages=[{"role": "robot", "content": "hi"}]), "messages[0].role", "invalid_value"),
        (chat(messages=[{"content": "hi"}]), "messages[0].role", "missing_required_parameter"),
        (chat(messages=[{"role": "user"}]), "messages[0].content", "missing_required_parameter"),
        (
            chat(messages=[{"role": "user", "content": {"text": "hi"}}]),
            "messages[0].content",
            "invalid_type",
        ),
        (
            chat(messages=[{"role": "user", "content": [{"type": "video", "url": "x"}]}]),
            "messages[0].content[0].type",
            "invalid_value",
        ),
        (
            chat(messages=[{"role": "tool", "content": "x"}]),
            "messages[0].tool_call_id",
            "missing_required_parameter",
        ),
        (chat(temperature=3), "temperature", "decimal_above_max_value"),
        (chat(n=0), "n", "integer_below_min_value"),
        (chat(n=129), "n", "integer_above_max_value"),
        (chat(stop=["a", "b", "c", "d", "e"]), "stop", "array_above_max_length"),
        (chat(response_format={"type": "xml"}), "response_format.type", "invalid_value"),
        (
            chat(response_format={"type": "json_schema"}),
            "response_format.json_schema",
            "missing_required_parameter",
        ),
        (chat(stream="yes"), "stream", "invalid_type"),
        (chat(logit_bias={"1": "high"}), "logit_bias.1", "invalid_type"),
    ],
)
def test_invalid_chat_bodies(validator: RequestValidator, body: Any, param: str, code: str) -> None:
    problem = first(validator.validate("POST", CHAT, json_body=body))
    assert (problem.param, problem.code) == (param, code)


def test_chat_message_errors_read_like_openai(validator: RequestValidator) -> None:
    problem = first(
        validator.validate("POST", CHAT, json_body=chat(messages=[{"role": "user", "content": {}}]))
    )
    assert problem.message == (
        "Invalid type for 'messages[0].content': expected one of a string or an array, "
        "but got an object instead."
    )
    problem = first(validator.validate("POST", CHAT, json_body=chat(n=130)))
    assert (
        problem.message
        == "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 130 instead."
    )


# ------------------------------------------------------------------------------ files


def test_file_upload_form(validator: RequestValidator) -> None:
    form = [
        ("purpose", "fine-tune"),
        ("expires_after[anchor]", "created_at"),
        ("expires_after[seconds]", "3600"),
        ("file", FilePart("train.jsonl", "application/octet-stream", 8)),
    ]
    values, problems = validator.parse_form("POST", "/files", form)
    assert problems == []
    assert values == {
        "purpose": "fine-tune",
        "expires_after": {"anchor": "created_at", "seconds": 3600},
        "file": FilePart("train.jsonl", "application/octet-stream", 8),
    }
    assert (
        validator.validate("POST", "/files", form={"purpose": "batch", "file": b"raw bytes"}) == []
    )


@pytest.mark.parametrize(
    ("form", "param", "code"),
    [
        ({"purpose": "training", "file": FilePart("a.jsonl")}, "purpose", "invalid_value"),
        ({"file": FilePart("a.jsonl")}, "purpose", "missing_required_parameter"),
        ({"purpose": "fine-tune"}, "file", "missing_required_parameter"),
        ({"purpose": "fine-tune", "file": "not a file"}, "file", "invalid_type"),
        ({"purpose": FilePart("p.txt"), "file": FilePart("a.jsonl")}, "purpose", "invalid_type"),
        (
            {
                "purpose": "fine-tune",
                "file": FilePart("a"),
                "expires_after[anchor]": "created_at",
                "expires_after[seconds]": "60",
            },
            "expires_after.seconds",
            "integer_below_min_value",
        ),
        (
            {
                "purpose": "fine-tune",
                "file": FilePart("a"),
                "expires_after[anchor]": "created_at",
                "expires_after[seconds]": "soon",
            },
            "expires_after.seconds",
            "invalid_type",
        ),
        (
            {
                "purpose": "fine-tune",
                "file": FilePart("a"),
                "expires_after[anchor]": "last_used_at",
                "expires_after[seconds]": "3600",
            },
            "expires_after.anchor",
            "invalid_value",
        ),
        (
            {"purpose": "fine-tune", "file": FilePart("a"), "expires_after[seconds]": "3600"},
            "expires_after.anchor",
            "missing_required_parameter",
        ),
        ({"purpose": "fine-tune", "file": FilePart("a"), "name": "x"}, "name", "unknown_parameter"),
    ],
)
def test_invalid_file_upload_forms(
    validator: RequestValidator, form: dict[str, object], param: str, code: str
) -> None:
    problem = first(validator.validate("POST", "/files", form=form))
    assert (problem.param, problem.code) == (param, code)


def test_file_field_message(validator: RequestValidator) -> None:
    problem = first(
        validator.validate("POST", "/files", form={"purpose": "fine-tune", "file": "x"})
    )
    assert problem.message == "Invalid type for 'file': expected a file, but got a string instead."


def test_json_sent_to_multipart_endpoint(validator: RequestValidator) -> None:
    problem = first(validator.validate("POST", "/files", json_body={"purpose": "fine-tune"}))
    assert (problem.code, problem.param) == (None, None)
    assert "multipart/form-data" in problem.message


def test_repeated_scalar_form_field_last_wins(validator: RequestValidator) -> None:
    values, problems = validator.parse_form(
        "POST", "/files", [("purpose", "nope"), ("purpose", "fine-tune"), ("file", FilePart("a"))]
    )
    assert problems == []
    assert values["purpose"] == "fine-tune"


# ---------------------------------------------------------------------------- uploads


def test_uploads(validator: RequestValidator) -> None:
    create = {
        "filename": "t.jsonl",
        "purpose": "fine-tune",
        "bytes": 1024,
        "mime_type": "application/jsonl",
    }
    assert validator.validate("POST", "/uploads", json_body=create) == []
    expiring = {**create, "expires_after": {"anchor": "created_at", "seconds": 7200}}
    assert validator.validate("POST", "/uploads", json_body=expiring) == []
    parts = "/uploads/{upload_id}/parts"
    assert validator.validate("POST", parts, form={"data": FilePart("upload")}) == []
    complete = "/uploads/{upload_id}/complete"
    assert (
        validator.validate("POST", complete, json_body={"part_ids": ["part_1"], "md5": "abc"}) == []
    )
    assert validator.validate("POST", complete, json_body={"part_ids": []}) == []
    assert validator.validate("POST", "/uploads/{upload_id}/cancel") == []


@pytest.mark.parametrize(
    ("template", "kwargs", "param", "code"),
    [
        (
            "/uploads",
            {"json_body": {"filename": "t", "purpose": "user_data", "bytes": 1, "mime_type": "m"}},
            "purpose",
            "invalid_value",
        ),
        (
            "/uploads",
            {"json_body": {"filename": "t", "purpose": "batch", "bytes": "1", "mime_type": "m"}},
            "bytes",
            "invalid_type",
        ),
        (
            "/uploads",
            {"json_body": {"filename": "t", "purpose": "batch", "bytes": 1}},
            "mime_type",
            "missing_required_parameter",
        ),
        (
            "/uploads",
            {
                "json_body": {
                    "filename": "t",
                    "purpose": "batch",
                    "bytes": 1,
                    "mime_type": "m",
                    "x": 1,
                }
            },
            "x",
            "unknown_parameter",
        ),
        ("/uploads/{upload_id}/parts", {"form": {}}, "data", "missing_required_parameter"),
        ("/uploads/{upload_id}/parts", {"form": {"data": "text"}}, "data", "invalid_type"),
        (
            "/uploads/{upload_id}/complete",
            {"json_body": {}},
            "part_ids",
            "missing_required_parameter",
        ),
        (
            "/uploads/{upload_id}/complete",
            {"json_body": {"part_ids": "part_1"}},
            "part_ids",
            "invalid_type",
        ),
        (
            "/uploads/{upload_id}/complete",
            {"json_body": {"part_ids": [1]}},
            "part_ids[0]",
            "invalid_type",
        ),
        (
            "/uploads/{upload_id}/complete",
            {"json_body": {"part_ids": [], "sha": "x"}},
            "sha",
            "unknown_parameter",
        ),
    ],
)
def test_invalid_uploads(
    validator: RequestValidator, template: str, kwargs: dict[str, Any], param: str, code: str
) -> None:
    problem = first(validator.validate("POST", template, **kwargs))
    assert (problem.param, problem.code) == (param, code)


# ------------------------------------------------------------------------------ query

EVENTS = "/fine_tuning/jobs/{fine_tuning_job_id}/events"


@pytest.mark.parametrize(
    ("template", "query", "expected"),
    [
        (EVENTS, "limit=2&after=ftevent-1", {"limit": 2, "after": "ftevent-1"}),
        (EVENTS, None, {"limit": 20}),
        (EVENTS, {"limit": "5", "unrelated": "x"}, {"limit": 5}),
        (
            JOBS,
            "after=ftjob-1&limit=2&metadata%5Bteam%5D=ml&metadata%5Bx+y%5D=a%26b",
            {"after": "ftjob-1", "limit": 2, "metadata": {"team": "ml", "x y": "a&b"}},
        ),
        (JOBS, [("metadata", "null")], {"metadata": None, "limit": 20}),
        ("/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints", "", {"limit": 10}),
        (
            "/files",
            "purpose=fine-tune&order=asc",
            {"purpose": "fine-tune", "order": "asc", "limit": 10000},
        ),
    ],
)
def test_valid_queries(
    validator: RequestValidator, template: str, query: Any, expected: dict[str, Any]
) -> None:
    values, problems = validator.parse_query("GET", template, query)
    assert problems == []
    assert values == expected
    assert validator.validate("GET", template, query=query) == []


@pytest.mark.parametrize(
    ("template", "query", "param", "code"),
    [
        (EVENTS, "limit=abc", "limit", "invalid_type"),
        (EVENTS, "limit=2.5", "limit", "invalid_type"),
        (JOBS, "metadata=abc", "metadata", "invalid_type"),
        ("/files", "order=sideways", "order", "invalid_value"),
    ],
)
def test_invalid_queries(
    validator: RequestValidator, template: str, query: str, param: str, code: str
) -> None:
    problem = first(validator.validate("GET", template, query=query))
    assert (problem.location, problem.param, problem.code) == ("query", param, code)
    assert problem.message.startswith(
        ("Invalid type for 'limit'", "Invalid type for 'metadata'", "Invalid value")
    )


def test_operations_without_parameters(validator: RequestValidator) -> None:
    for method, template in extract.OPERATIONS:
        if (
            method in ("GET", "DELETE")
            and template not in ("/files", JOBS)
            and "events" not in template
        ):
            assert validator.validate(method, template) == [], template


# --------------------------------------------------- the real openai client's requests


@dataclass(frozen=True)
class Captured:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    form: list[tuple[str, object]] | None

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body and self.form is None else None


def _calls() -> dict[str, Callable[[Any], object]]:
    sft_method = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}}
    dpo_method = {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}}
    return {
        "files.create": lambda c: c.files.create(
            file=("train.jsonl", b'{"messages": []}\n'),
            purpose="fine-tune",
            expires_after={"anchor": "created_at", "seconds": 3600},
        ),
        "files.create/bytesio": lambda c: c.files.create(file=io.BytesIO(b"{}\n"), purpose="batch"),
        "files.list": lambda c: c.files.list(purpose="fine-tune", limit=5, order="asc"),
        "files.retrieve": lambda c: c.files.retrieve("file-abc"),
        "files.content": lambda c: c.files.content("file-abc"),
        "files.delete": lambda c: c.files.delete("file-abc"),
        "uploads.create": lambda c: c.uploads.create(
            filename="train.jsonl", purpose="fine-tune", bytes=2048, mime_type="application/jsonl"
        ),
        "uploads.parts.create": lambda c: c.uploads.parts.create("upload_abc", data=b"chunk"),
        "uploads.complete": lambda c: c.uploads.complete(
            "upload_abc", part_ids=["part_1", "part_2"], md5="d41d8"
        ),
        "uploads.cancel": lambda c: c.uploads.cancel("upload_abc"),
        "jobs.create/sft": lambda c: c.fine_tuning.jobs.create(
            model="gpt-4o-mini",
            training_file="file-train",
            validation_file="file-val",
            suffix="demo",
            seed=42,
            metadata={"team": "ml"},
            integrations=[{"type": "wandb", "wandb": {"project": "ft"}}],
            method=sft_method,
        ),
        "jobs.create/dpo": lambda c: c.fine_tuning.jobs.create(
            model="gpt-4o-mini", training_file="file-train", method=dpo_method
        ),
        "jobs.list": lambda c: c.fine_tuning.jobs.list(
            limit=2, after="ftjob-abc", metadata={"team": "ml", "stage": "dev"}
        ),
        "jobs.retrieve": lambda c: c.fine_tuning.jobs.retrieve("ftjob-abc"),
        "jobs.cancel": lambda c: c.fine_tuning.jobs.cancel("ftjob-abc"),
        "jobs.pause": lambda c: c.fine_tuning.jobs.pause("ftjob-abc"),
        "jobs.resume": lambda c: c.fine_tuning.jobs.resume("ftjob-abc"),
        "jobs.list_events": lambda c: c.fine_tuning.jobs.list_events(
            "ftjob-abc", limit=5, after="ftevent-1"
        ),
        "jobs.checkpoints.list": lambda c: c.fine_tuning.jobs.checkpoints.list(
            "ftjob-abc", limit=3
        ),
        "models.list": lambda c: c.models.list(),
        "models.retrieve": lambda c: c.models.retrieve("gpt-4o-mini"),
        "models.delete": lambda c: c.models.delete("ft:gpt-4o-mini:org:demo:abc"),
        "chat.completions.create": lambda c: c.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
            temperature=0.2,
            max_completion_tokens=16,
        ),
    }


CALLS = list(_calls())


def _answer(method: str, path: str) -> dict[str, Any]:
    """A minimal JSON answer the client can parse."""
    if path.endswith("/chat/completions"):
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "hi"},
                }
            ],
        }
    if method == "GET" and (
        path.endswith(("/files", "/jobs", "/events", "/checkpoints", "/models"))
    ):
        return {"object": "list", "data": [], "has_more": False}
    return {"id": "obj-1", "object": "thing", "deleted": True, "status": "ok"}


@pytest.fixture(scope="module")
def captured() -> Iterator[dict[str, Captured]]:
    openai = pytest.importorskip("openai")
    uvicorn = pytest.importorskip("uvicorn")
    from starlette.applications import Starlette
    from starlette.datastructures import UploadFile
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    records: list[Captured] = []

    async def record(request: Request) -> JSONResponse:
        body = await request.body()
        form: list[tuple[str, object]] | None = None
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = []
            for key, value in (await request.form()).multi_items():
                if isinstance(value, UploadFile):
                    form.append((key, FilePart(value.filename, value.content_type, value.size)))
                else:
                    form.append((key, value))
        records.append(
            Captured(
                method=request.method,
                path=request.url.path,
                query=request.url.query,
                headers=dict(request.headers),
                body=body,
                form=form,
            )
        )
        return JSONResponse(_answer(request.method, request.url.path))

    app = Starlette(routes=[Route("/{rest:path}", record, methods=["GET", "POST", "DELETE"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "capture server did not start"
    client = openai.OpenAI(
        base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test", max_retries=0, timeout=10
    )
    results: dict[str, Captured] = {}
    try:
        for name, call in _calls().items():
            before = len(records)
            outcome = call(client)
            if hasattr(outcome, "__iter__") and not isinstance(outcome, dict | bytes | str):
                list(outcome)  # pages fetch lazily
            assert len(records) == before + 1, name
            results[name] = records[-1]
        yield results
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.mark.parametrize("name", CALLS)
def test_real_client_requests_validate(
    captured: dict[str, Captured],
    validator: RequestValidator,
    strict_validator: RequestValidator,
    name: str,
) -> None:
    request = captured[name]
    match = validator.match_path(request.path)
    assert match is not None, request.path
    assert request.method in match.methods
    for checker in (validator, strict_validator):
        problems = checker.validate(
            request.method,
            match.template,
            json_body=request.json,
            form=request.form,
            query=request.query,
        )
        assert problems == [], (name, problems)


def test_real_client_multipart_shape(captured: dict[str, Captured]) -> None:
    upload = captured["files.create"]
    assert upload.path == "/v1/files"
    assert upload.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert upload.form == [
        ("purpose", "fine-tune"),
        ("expires_after[anchor]", "created_at"),
        ("expires_after[seconds]", "3600"),
        ("file", FilePart("train.jsonl", "application/octet-stream", 17)),
    ]
    assert b'name="file"; filename="train.jsonl"' in upload.body
    assert captured["files.create/bytesio"].form == [
        ("purpose", "batch"),
        ("file", FilePart("upload", "application/octet-stream", 3)),
    ]
    assert captured["uploads.parts.create"].form == [
        ("data", FilePart("upload", "application/octet-stream", 5))
    ]


def test_real_client_json_and_query_shape(captured: dict[str, Captured]) -> None:
    sft_request = captured["jobs.create/sft"]
    assert sft_request.headers["content-type"] == "application/json"
    assert sft_request.body == (
        b'{"model":"gpt-4o-mini","training_file":"file-train",'
        b'"integrations":[{"type":"wandb","wandb":{"project":"ft"}}],"metadata":{"team":"ml"},'
        b'"method":{"type":"supervised","supervised":{"hyperparameters":{"n_epochs":3}}},'
        b'"seed":42,"suffix":"demo","validation_file":"file-val"}'
    )
    assert captured["jobs.create/dpo"].json == {
        "model": "gpt-4o-mini",
        "training_file": "file-train",
        "method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}},
    }
    assert captured["uploads.create"].json == {
        "bytes": 2048,
        "filename": "train.jsonl",
        "mime_type": "application/jsonl",
        "purpose": "fine-tune",
    }
    assert captured["uploads.complete"].json == {"part_ids": ["part_1", "part_2"], "md5": "d41d8"}
    assert (
        captured["jobs.list"].query
        == "after=ftjob-abc&limit=2&metadata%5Bteam%5D=ml&metadata%5Bstage%5D=dev"
    )
    assert captured["jobs.list_events"].path == "/v1/fine_tuning/jobs/ftjob-abc/events"
    assert captured["jobs.list_events"].query == "after=ftevent-1&limit=5"
    assert captured["files.list"].query == "limit=5&order=asc&purpose=fine-tune"
    for name in ("jobs.cancel", "jobs.pause", "jobs.resume", "uploads.cancel"):
        assert (captured[name].method, captured[name].body) == ("POST", b""), name
    assert captured["chat.completions.create"].json == {
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "model": "gpt-4o-mini",
        "max_completion_tokens": 16,
        "temperature": 0.2,
    }
