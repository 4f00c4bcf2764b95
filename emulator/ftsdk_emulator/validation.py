"""Strict mode: check each OpenAI request against the published OpenAPI description."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from starlette.requests import Request

from ftsdk_emulator.openapi import RequestValidator
from ftsdk_emulator.service import ApiError

__all__ = ["SUBSET", "check_request", "validator"]

SUBSET = Path(__file__).with_name("openai-subset.json")
"""The operations the emulator serves, excerpted from OpenAI's OpenAPI description by
``scripts/extract_openai_subset.py``."""


@functools.cache
def validator() -> RequestValidator:
    """The validator, built once (about a millisecond)."""
    return RequestValidator.from_file(SUBSET, reject_unknown_body_fields=True)


def check_request(request: Request, json_body: Any = None, form: Any = None) -> None:
    """Raise the 400 OpenAI would answer when the request breaks its API description."""
    from ftsdk_emulator.faults import route_of

    checker = validator()
    match = checker.match_path(route_of(request.url.path))
    if match is None or not checker.has_operation(request.method, match.template):
        return
    problems = checker.validate(
        request.method, match.template, json_body=json_body, form=form, query=request.url.query
    )
    if problems:
        error = problems[0].to_error_body()["error"]
        raise ApiError(400, error["message"], param=error.get("param"), code=error.get("code"))
