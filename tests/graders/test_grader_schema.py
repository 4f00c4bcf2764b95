"""Every grader's JSON against the published API descriptions: OpenAI's ``graders/run``
request and ``RunGraderResponse``, and the graders each service's reinforcement fine-tuning
takes (Azure's takes no ``python``)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# Imported here only: the validator may move with the emulator.
from ftsdk.errors import InvalidRequest
from ftsdk.graders import (
    AZURE_RFT,
    OPENAI_RFT,
    Multi,
    Python,
    ScoreModel,
    StringCheck,
    TextSimilarity,
    check_grader,
    parse_grader,
)
from ftsdk_emulator.openapi import RequestValidator, normalize_schema

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
# The graders/run and graders/validate operations of the spec named in its "info", made by
# scripts/extract_openai_subset.py's build_subset(spec, [("POST", "/fine_tuning/alpha/graders/
# run"), ("POST", ".../validate")]), with clean_schema's copies of RunGraderResponse and
# FineTuneReinforcementMethod (and what they reference) added to components.schemas.
OPENAI = RequestValidator.from_file(HERE / "openai-graders-subset.json")
AZURE_V1 = ROOT / "specs" / "azure" / "dataplane-v1" / "azure-v1-v1-generated.yaml"

STRING = StringCheck(
    name="label", input="{{sample.output_text}}", reference="{{item.label}}", operation="eq"
)
SIMILAR = TextSimilarity(
    name="close",
    input="{{sample.output_text}}",
    reference="{{item.label}}",
    evaluation_metric="rouge_l",
)
PYTHON = Python(
    name="code",
    image_tag="2025-05-08",
    source="def grade(sample, item):\n    return float(sample['output_text'] == item['label'])\n",
)
SCORE = ScoreModel(
    name="judge",
    model="gpt-4o-2024-08-06",
    input=[
        {"role": "system", "content": "Grade the answer against the label."},
        {
            "role": "user",
            "type": "message",
            "content": [
                {"type": "input_text", "text": "Label: {{item.label}}"},
                {"type": "input_text", "text": "Answer: {{sample.output_text}}"},
            ],
        },
    ],
    range=[0, 10],
    sampling_params={
        "temperature": 0.2,
        "seed": 42,
        "max_completions_tokens": 200,
        "reasoning_effort": "low",
    },
)
MULTI = Multi(
    name="all",
    calculate_output="(label + close) / 2 + 0 * judge",
    graders={"label": STRING, "close": SIMILAR, "judge": SCORE},
)
SINGLE = [STRING, SIMILAR, PYTHON, SCORE]


def problems(body: dict[str, Any]) -> list[str]:
    return [
        p.message for p in OPENAI.validate("POST", "/fine_tuning/alpha/graders/run", json_body=body)
    ]


@pytest.mark.parametrize("grader", SINGLE, ids=lambda g: g.type)
def test_each_grader_is_valid_json_for_graders_run(grader: Any) -> None:
    body = {"grader": grader.to_api(), "item": {"label": "4"}, "model_sample": "4"}
    assert problems(body) == []
    assert problems({**body, "grader": {**grader.to_api(), "type": "nonsense"}}) != []
    assert parse_grader(json.dumps(grader.to_api())) == grader  # and back


def test_multi_sends_the_named_mapping_the_service_takes() -> None:
    # OpenAI's document types `graders` as ONE grader; the service wants the mapping by name
    # (openai/openai-java#647). So each sub-grader is checked against the document, and the
    # rest of the multi grader with `graders` aside.
    data = MULTI.to_api()
    assert set(data["graders"]) == {"label", "close", "judge"}
    for sub in data["graders"].values():
        assert problems({"grader": sub, "model_sample": "4"}) == []
    schema = OPENAI.schemas["GraderMulti"]
    assert set(schema["required"]) == set(data)
    assert data["type"] == "multi"
    assert isinstance(data["calculate_output"], str)


def test_a_run_result_is_a_valid_run_grader_response() -> None:
    response = Draft202012Validator(OPENAI.schemas["RunGraderResponse"])
    for grader, sample in [(STRING, "4"), (SIMILAR, "4"), (PYTHON, "5"), (STRING, "")]:
        result = grader.run(sample, item={"label": "4"})
        data = result.to_api()
        assert list(response.iter_errors(data)) == []
        assert set(data["metadata"]["errors"]) == set(
            OPENAI.schemas["RunGraderResponse"]["properties"]["metadata"]["properties"]["errors"][
                "required"
            ]
        )
    failed = STRING.run("4", item={}).to_api()
    assert list(response.iter_errors(failed)) == []
    assert failed["metadata"]["errors"]["invalid_variable_error"] is True


# ------------------------------------------------------------------- what each service takes


@functools.cache
def azure_rft() -> tuple[Draft202012Validator, dict[str, Any]]:
    """A validator for Azure v1's reinforcement method, and its component schemas."""
    document = yaml.safe_load(AZURE_V1.read_text(encoding="utf-8"))
    schemas = {n: normalize_schema(s) for n, s in document["components"]["schemas"].items()}
    uri = "urn:azure-v1"
    registry: Registry[Any] = Registry().with_resource(
        uri,
        Resource.from_contents(
            {"components": {"schemas": schemas}}, default_specification=DRAFT202012
        ),
    )
    ref = {"$ref": f"{uri}#/components/schemas/AzureFineTuneReinforcementMethod"}
    return Draft202012Validator(ref, registry=registry), schemas


def grader_types(union: list[dict[str, str]], schemas: dict[str, Any]) -> set[str]:
    return {schemas[u["$ref"].rsplit("/", 1)[1]]["properties"]["type"]["enum"][0] for u in union}


def test_azure_takes_every_grader_but_python() -> None:
    validator, _ = azure_rft()
    one_part = [
        {"role": "system", "content": "Grade the answer against the label."},
        {"role": "user", "content": {"type": "input_text", "text": "{{sample.output_text}}"}},
    ]
    score = SCORE.model_copy(
        update={"input": SCORE.model_validate({**SCORE.to_api(), "input": one_part}).input}
    )
    for grader in [
        STRING,
        SIMILAR,
        score,
        Multi(name="m", calculate_output="a + b", graders={"a": STRING, "b": SIMILAR}),
    ]:
        assert list(validator.iter_errors({"grader": grader.to_api()})) == [], grader.type
        check_grader(grader, AZURE_RFT)
    assert list(validator.iter_errors({"grader": PYTHON.to_api()})) != []
    with pytest.raises(InvalidRequest) as caught:
        check_grader(PYTHON, AZURE_RFT)
    assert caught.value.field == "grader"
    assert "does not take python graders" in str(caught.value)
    # Azure's document takes a string or one content part per message, not a list of parts
    assert list(validator.iter_errors({"grader": SCORE.to_api()})) != []
    with pytest.raises(InvalidRequest) as listed:
        check_grader(SCORE, AZURE_RFT)
    assert listed.value.field == "grader.input[1].content"
    check_grader(SCORE, OPENAI_RFT)


def test_a_python_grader_inside_a_multi_grader_is_refused_for_azure_too() -> None:
    validator, _ = azure_rft()
    grader = Multi(name="m", calculate_output="a * b", graders={"a": STRING, "b": PYTHON})
    assert list(validator.iter_errors({"grader": grader.to_api()})) != []
    with pytest.raises(InvalidRequest) as caught:
        check_grader(grader, AZURE_RFT)
    assert caught.value.problems == (
        "grader.graders.b: Azure OpenAI reinforcement fine-tuning does not take python graders "
        "inside a multi grader (it takes score_model, string_check, text_similarity)",
    )
    check_grader(grader, OPENAI_RFT)  # OpenAI takes it


def test_the_support_tables_are_the_published_unions() -> None:
    _, schemas = azure_rft()
    method = schemas["AzureFineTuneReinforcementMethod"]["properties"]["grader"]["anyOf"]
    multi = schemas["OpenAI.GraderMulti"]["properties"]["graders"]["additionalProperties"]
    assert grader_types(method, schemas) == AZURE_RFT.types
    assert grader_types(multi["anyOf"], schemas) == AZURE_RFT.multi_types
    azure_metrics = schemas["OpenAI.GraderTextSimilarity"]["properties"]["evaluation_metric"]
    assert set(azure_metrics["enum"]) == AZURE_RFT.metrics

    openai = OPENAI.schemas
    union = openai["FineTuneReinforcementMethod"]["properties"]["grader"]["anyOf"]
    assert grader_types(union, openai) == OPENAI_RFT.types
    metrics = set(openai["GraderTextSimilarity"]["properties"]["evaluation_metric"]["enum"])
    assert metrics - OPENAI_RFT.metrics == {"cosine"}  # evals only, says OpenAI's guide


def test_check_grader_lists_every_problem_with_its_field() -> None:
    grader = Multi(
        name="m",
        calculate_output="a + sqrt(",
        graders={
            "a": TextSimilarity(name="a", input="x", reference="y", evaluation_metric="cosine"),
            "b": Python(name="b", source="def grade(s, i) return 1"),
            "c": SCORE.model_copy(update={"range": [1, 0]}),
        },
    )
    with pytest.raises(InvalidRequest) as caught:
        check_grader(grader, OPENAI_RFT)
    fields = [problem.split(":", 1)[0] for problem in caught.value.problems]
    assert fields == [
        "grader.calculate_output",
        "grader.graders.a.evaluation_metric",
        "grader.graders.b.source",
        "grader.graders.c.range",
    ]
    assert caught.value.field == "grader.calculate_output"
