"""What a server prints to tell a person how to call it: the banner, and the stand-in key."""

from __future__ import annotations

__all__ = ["NO_KEY", "banner"]

NO_KEY = "unused"
"""The ``api_key`` to give the ``openai`` client for a server that checks none (the client
refuses to start without one)."""


def banner(
    *,
    name: str,
    served_by: str,
    base_url: str,
    health_url: str,
    requires_key: bool,
    routes: str = "POST /v1/chat/completions, POST /v1/responses",
) -> list[str]:
    """The lines that tell a person how to call a server, ready to copy (the last one says
    how to stop it). The key itself is never shown."""
    if requires_key:
        key, note = "KEY", "KEY: the key given with --api-key (or $FTSDK_SERVE_API_KEY)"
    else:
        key, note = NO_KEY, "any value: no key is checked, but the openai client needs one"
    return [
        f"Serving {name!r} ({served_by}) at {base_url}",
        f"  export OPENAI_BASE_URL={base_url}",
        f"  export OPENAI_API_KEY={key}    # {note}",
        f"  model={name!r}: {routes}",
        f"  Python: OpenAI(base_url={base_url!r}, api_key={key!r})",
        f"  health: GET {health_url}",
        "Press Ctrl-C to stop.",
    ]
