"""Strict mode: requests are checked against OpenAI's published OpenAPI description."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from ftsdk_emulator import Emulator, EmulatorConfig


def post(emulator: Emulator, path: str, body: object) -> httpx.Response:
    return httpx.post(
        f"{emulator.openai_base_url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {emulator.api_key}"},
    )


def test_an_invalid_job_body_is_rejected_as_openai_would(emulator: Emulator) -> None:
    answer = post(
        emulator,
        "/fine_tuning/jobs",
        {
            "model": "gpt-4o-mini-2024-07-18",
            "training_file": "file-x",
            "method": {
                "type": "supervised",
                "supervised": {"hyperparameters": {"n_epochs": "lots"}},
            },
        },
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "method.supervised.hyperparameters.n_epochs"
    assert emulator.jobs == []


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"training_file": "file-x"}, "model", "missing_required_parameter"),
        ({"model": "m", "training_file": "f", "n_epoch": 3}, "n_epoch", "unknown_parameter"),
        ({"model": "m", "training_file": 7}, "training_file", "invalid_type"),
        (
            {"model": "m", "training_file": "f", "method": {"type": "rlhf"}},
            "method.type",
            "invalid_value",
        ),
    ],
)
def test_each_kind_of_problem_names_its_field(
    emulator: Emulator, body: dict[str, object], param: str, code: str
) -> None:
    error = post(emulator, "/fine_tuning/jobs", body).json()["error"]
    assert (error["param"], error["code"]) == (param, code)


def test_an_invalid_chat_body_is_rejected(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.chat.completions.create(
            model="gpt-4o-mini-2024-07-18",
            messages=[{"role": "robot", "content": "hi"}],  # type: ignore[misc, list-item]
        )
    assert caught.value.body["param"] == "messages[0].role"  # type: ignore[index]


def test_a_bad_upload_form_is_rejected(
    emulator: Emulator, openai_client: openai.OpenAI, tmp_path: Path
) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text("{}\n")
    with pytest.raises(openai.BadRequestError) as caught, path.open("rb") as stream:
        openai_client.files.create(file=stream, purpose="homework")  # type: ignore[arg-type]
    assert caught.value.body["param"] == "purpose"  # type: ignore[index]
    assert emulator.files == []


def test_strict_mode_can_be_turned_off() -> None:
    with Emulator(config=EmulatorConfig(strict=False)) as emu:
        answer = post(
            emu,
            "/fine_tuning/jobs",
            {"model": "gpt-4o-mini-2024-07-18", "training_file": "file-x", "n_epoch": 3},
        )
    assert answer.json()["error"]["param"] == "training_file"  # got past the schema check
