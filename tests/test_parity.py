"""Sync and async twins stay twins: every public method and property on one side exists on
the other with the same parameters, and what awaits on the async side is a coroutine.

A new method added to ``Job`` but not to ``AsyncJob`` (or a parameter added to one
``wait``) fails here, naming it.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from ftsdk import AsyncClient, AsyncJob, AsyncModel, ChatStream, Client, Job, Model, Operation
from ftsdk.aio import AsyncChatStream
from ftsdk.provider import CONTRACT, Provider

TWINS = {
    "close": "aclose",
    "__enter__": "__aenter__",
    "__exit__": "__aexit__",
    "__iter__": "__aiter__",
    "__next__": "__anext__",
}
"""Sync names whose async twin has another name, as in the standard library."""

NOT_AWAITED = {"model", "stream", "call_stream", "require", "__aiter__"}
"""Async-side methods that return at once (a handle, a stream), so are not coroutines."""

PAIRS = [
    (Client, AsyncClient),
    (Job, AsyncJob),
    (Model, AsyncModel),
    (ChatStream, AsyncChatStream),
]


def public(cls: type) -> dict[str, Any]:
    """The members a user reaches: public names, and the protocol dunders with twins."""
    dunders = set(TWINS) | set(TWINS.values())
    return {
        name: value
        for name, value in inspect.getmembers(cls)
        if (not name.startswith("_") or name in dunders) and name in _defined(cls, name)
    }


def _defined(cls: type, name: str) -> set[str]:
    # Only what the ftsdk classes define: object's own dunders are no one's API.
    return {name} if any(name in vars(k) for k in cls.__mro__ if k is not object) else set()


def _simple(value: object) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def signature_differences(name: str, sync: Any, async_: Any) -> list[str]:
    """How two methods' parameters differ (names, kinds, plain defaults), ``self`` aside."""
    left = list(inspect.signature(sync).parameters.values())[1:]
    right = list(inspect.signature(async_).parameters.values())[1:]
    if [(p.name, p.kind) for p in left] != [(p.name, p.kind) for p in right]:
        return [f"{name}: parameters {inspect.signature(sync)} vs {inspect.signature(async_)}"]
    return [
        f"{name}({a.name}=...): default {a.default!r} vs {b.default!r}"
        for a, b in zip(left, right, strict=True)
        if _simple(a.default) and _simple(b.default) and a.default != b.default
    ]


def differences(sync_cls: type, async_cls: type) -> list[str]:
    """Everything that exists on one side only, or differs between the two."""
    sync_members, async_members = public(sync_cls), public(async_cls)
    found: list[str] = []
    twin_of = {name: TWINS.get(name, name) for name in sync_members}
    for name in sorted(set(async_members) - set(twin_of.values())):
        found.append(f"{async_cls.__name__}.{name} has no twin on {sync_cls.__name__}")
    for name, twin in sorted(twin_of.items()):
        if twin not in async_members:
            found.append(f"{sync_cls.__name__}.{name} has no twin on {async_cls.__name__}")
            continue
        left, right = sync_members[name], async_members[twin]
        if isinstance(left, property) != isinstance(right, property):
            found.append(f"{name} is a property on one side only")
        elif inspect.isfunction(left) and inspect.isfunction(right):
            found += signature_differences(name, left, right)
            awaited = inspect.iscoroutinefunction(right)
            if twin not in NOT_AWAITED and not awaited:
                found.append(f"{async_cls.__name__}.{twin} is not awaited (not async def)")
            if twin in NOT_AWAITED and awaited:
                found.append(f"{async_cls.__name__}.{twin} is async but returns at once")
    return found


@pytest.mark.parametrize(("sync_cls", "async_cls"), PAIRS, ids=lambda c: c.__name__)
def test_parity_of_handles(sync_cls: type, async_cls: type) -> None:
    assert differences(sync_cls, async_cls) == []


def test_parity_of_the_provider_contract() -> None:
    shared = {
        "secrets",
        "active_capabilities",
        "check_spec",
        "engines",
        "overrides",
        "implemented_operations",
        "partially_implemented_operations",
    }
    methods = {
        name: fn
        for name, fn in vars(Provider).items()
        if not name.startswith("_") and (inspect.isfunction(fn) or isinstance(fn, classmethod))
    }
    pairs = {m.sync.__name__: m.async_.__name__ for m in CONTRACT} | {"close": "aclose"}
    unpaired = set(methods) - shared - set(pairs) - set(pairs.values())
    assert unpaired == set(), f"Provider methods without a twin: {sorted(unpaired)}"
    problems: list[str] = []
    for sync_name, async_name in pairs.items():
        sync, async_ = methods[sync_name], methods[async_name]
        problems += signature_differences(sync_name, sync, async_)
        if not (inspect.iscoroutinefunction(async_) or inspect.isasyncgenfunction(async_)):
            problems.append(f"Provider.{async_name} is not async")
    assert problems == []
    assert {m.operation for m in CONTRACT} == set(Operation), "an operation without methods"


def test_parity_check_catches_drift() -> None:
    """The check itself fails on the drift it exists for (so the tests above can fail)."""

    class Handle:
        def refresh(self, *, full: bool = False) -> None: ...

        def cancel(self) -> None: ...

        @property
        def provider(self) -> str:
            return ""

    class AsyncHandle:
        async def refresh(self) -> None: ...

        def cancel(self) -> None: ...

    found = differences(Handle, AsyncHandle)
    assert "Handle.provider has no twin on AsyncHandle" in found
    assert any(line.startswith("refresh: parameters") for line in found)
    assert "AsyncHandle.cancel is not awaited (not async def)" in found
