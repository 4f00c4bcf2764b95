"""Credentials: taken from explicit arguments or the provider's usual environment variables,
held as ``SecretStr``, and kept out of every repr, log line, error and stored record."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from pydantic import SecretStr

from ftsdk.errors import MissingCredentials

__all__ = ["REDACTED", "redact", "resolve_secret", "resolve_setting"]

REDACTED = "***"


def resolve_setting(
    value: str | None, env_vars: Iterable[str], *, env: Mapping[str, str] | None = None
) -> str | None:
    """``value`` if given, else the first of ``env_vars`` that is set and not empty."""
    if value:
        return value
    environ = os.environ if env is None else env
    for name in env_vars:
        if found := environ.get(name):
            return found
    return None


def resolve_secret(
    value: str | SecretStr | None,
    env_vars: Iterable[str],
    *,
    provider: str,
    argument: str,
    required: bool = True,
    env: Mapping[str, str] | None = None,
) -> SecretStr | None:
    """A secret from an explicit argument or the environment.

    :raises MissingCredentials: naming the variables to set and the argument to pass.

    >>> resolve_secret(None, ["EXAMPLE_KEY"], provider="example", argument="api_key",
    ...                env={"EXAMPLE_KEY": "s3cret"})
    SecretStr('**********')
    """
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    names = list(env_vars)
    found = resolve_setting(value, names, env=env)
    if found:
        return SecretStr(found)
    if not required:
        return None
    where = " or ".join(names)
    raise MissingCredentials(
        f"{provider} needs credentials: set {where} or pass {argument}=...", provider=provider
    )


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret (4+ characters) replaced by ``***``."""
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
