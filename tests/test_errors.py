"""The error taxonomy is what the module says it is."""

from __future__ import annotations

import re

from ftsdk import errors


def documented_tree() -> dict[str, str]:
    """child -> parent, read from the tree drawn at the top of ftsdk/errors.py."""
    doc = errors.__doc__ or ""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        match = re.match(r"^(\s*)(?:[│ ]*[├└]── )?([A-Z]\w+)\s{2,}", line)
        if not match or not line.startswith("    "):
            continue
        depth = len(re.match(r"^[\s│├└─]*", line).group(0))  # type: ignore[union-attr]
        name = match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_hierarchy_matches_the_drawing() -> None:
    drawn = documented_tree()
    actual = {
        name: getattr(errors, name).__mro__[1].__name__
        for name in errors.__all__
        if isinstance(getattr(errors, name), type) and name != "FtsdkError"
    }
    assert drawn == actual


def test_every_error_is_exported() -> None:
    for name, value in vars(errors).items():
        if isinstance(value, type) and issubclass(value, errors.FtsdkError):
            assert name in errors.__all__


def test_str_carries_the_details() -> None:
    err = errors.RateLimited(
        "slow down",
        provider="openai",
        status_code=429,
        code="rate_limit",
        request_id="req_1",
        retry_after=2.0,
    )
    assert str(err) == "slow down (provider=openai, status=429, code=rate_limit, request_id=req_1)"
    assert err.retry_after == 2.0


def test_training_not_available_is_a_permission_error() -> None:
    err = errors.TrainingNotAvailable("wind-down", alternatives=["azure", "trl"])
    assert isinstance(err, errors.PermissionDenied)
    assert err.alternatives == ("azure", "trl")
