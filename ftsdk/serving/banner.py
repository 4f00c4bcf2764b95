"""What a server tells a person about how to call it: its address, the banner, and the
stand-in key."""

from __future__ import annotations

__all__ = ["NO_KEY", "ServerAddress", "banner"]

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


class ServerAddress:
    """``url`` and ``base_url`` of a server, from its ``host`` and ``port``."""

    @property
    def host(self) -> str:
        """The address listened on."""
        raise NotImplementedError

    @property
    def port(self) -> int:
        """The port listened on."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        """``http://host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://host:port/v1``: the ``base_url`` for ``openai.OpenAI``."""
        return f"{self.url}/v1"
