"""A local stand-in for the Hugging Face Hub endpoints that ``huggingface_hub`` uses to create
a repository and commit files to it (``HfApi.create_repo`` / ``upload_folder``), so that
pushing a model can be tested offline: point ``HF_ENDPOINT`` (or ``HfApi(endpoint=...)``) at
:attr:`HubEmulator.url`.

Files are committed inline (every file answered ``uploadMode: regular``); a token must be
sent, and the one the test registered; repositories and their files are kept in
:attr:`HubEmulator.repos`. A ``README.md`` is checked first, as the Hub does
(``POST /api/validate-yaml``): its YAML metadata header must parse to a mapping.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ftsdk.testing.emulator.serving import ServerThread

__all__ = ["HubEmulator", "HubRepo"]


@dataclass
class HubRepo:
    """A repository on the emulated Hub."""

    repo_id: str
    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)
    """Commit summaries, oldest first."""


class HubEmulator:
    """The Hub's repo-creation and commit endpoints on 127.0.0.1.

    :param token: the one token accepted (``Authorization: Bearer``).
    """

    def __init__(self, token: str = "hf_emulator_token") -> None:
        self.token = token
        self.repos: dict[str, HubRepo] = {}
        self.requests: list[str] = []
        self._lock = threading.Lock()
        routes = [
            Route("/api/whoami-v2", self._whoami, methods=["GET"]),
            # huggingface_hub (1.x+) fetches this registry by itself, to fill its user agent.
            Route("/api/agent-harnesses", self._harnesses, methods=["GET"]),
            Route("/api/repos/create", self._create, methods=["POST"]),
            # upload_folder sends a README.md here before hashing anything.
            Route("/api/validate-yaml", self._validate_yaml, methods=["POST"]),
            Route(
                "/api/models/{ns}/{name}/preupload/{revision}", self._preupload, methods=["POST"]
            ),
            Route("/api/models/{ns}/{name}/commit/{revision}", self._commit, methods=["POST"]),
            Route("/api/models/{ns}/{name}/revision/{revision}", self._info, methods=["GET"]),
            Route("/api/models/{ns}/{name}", self._info, methods=["GET"]),
        ]
        self._server = ServerThread(Starlette(routes=routes), name="ftsdk-hub")

    @property
    def url(self) -> str:
        """The value for ``HF_ENDPOINT``."""
        return self._server.url

    def start(self) -> HubEmulator:
        """Start serving."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def __enter__(self) -> HubEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _denied(self, request: Request) -> Response | None:
        self.requests.append(f"{request.method} {request.url.path}")
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse(
                {"error": "Invalid credentials in Authorization header"}, status_code=401
            )
        return None

    def _repo(self, request: Request) -> HubRepo | None:
        return self.repos.get(f"{request.path_params['ns']}/{request.path_params['name']}")

    async def _whoami(self, request: Request) -> Response:
        return self._denied(request) or JSONResponse({"name": "emulator", "type": "user"})

    async def _harnesses(self, request: Request) -> Response:
        return JSONResponse({"standardEnvVars": [], "harnesses": {}})  # public, no token

    async def _create(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await request.json()
        repo_id = f"{body.get('organization') or 'emulator'}/{body['name']}"
        with self._lock:
            if repo_id in self.repos:
                return JSONResponse(
                    {
                        "error": "You already created this model repo",
                        "url": f"{self.url}/{repo_id}",
                    },
                    status_code=409,
                )
            private = bool(body.get("private")) or body.get("visibility") == "private"
            self.repos[repo_id] = HubRepo(repo_id, private)
        return JSONResponse({"url": f"{self.url}/{repo_id}", "name": repo_id})

    async def _validate_yaml(self, request: Request) -> Response:
        """The Hub's answer for a repo card: ``{"errors": [...], "warnings": [...]}``, each
        ``{"message": ...}``, status 400 when there are errors. Only the YAML itself is
        checked (the Hub also checks known keys such as ``license`` against its lists)."""
        if (denied := self._denied(request)) is not None:
            return denied
        body = await request.json()
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, str):
            return JSONResponse({"errors": [{"message": '"content" must be a string'}]}, 400)
        problems, warnings = card_metadata_problems(content)
        return JSONResponse(
            {"errors": problems, "warnings": warnings}, status_code=400 if problems else 200
        )

    async def _preupload(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        if self._repo(request) is None:
            return JSONResponse({"error": "Repository not found"}, status_code=404)
        files = (await request.json()).get("files", [])
        return JSONResponse(
            {
                "files": [
                    {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                    for f in files
                ]
            }
        )

    async def _commit(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        repo = self._repo(request)
        if repo is None:
            return JSONResponse({"error": "Repository not found"}, status_code=404)
        summary, added = "", {}
        for line in (await request.body()).splitlines():
            item = json.loads(line)
            if item["key"] == "header":
                summary = item["value"].get("summary", "")
            elif item["key"] == "file":
                added[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
        with self._lock:
            repo.files.update(added)
            repo.commits.append(summary)
            oid = hashlib.sha1(repr(sorted(repo.files)).encode()).hexdigest()
        return JSONResponse(
            {
                "commitUrl": f"{self.url}/{repo.repo_id}/commit/{oid}",
                "commitOid": oid,
                "success": True,
            }
        )

    async def _info(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        repo = self._repo(request)
        if repo is None:
            return JSONResponse({"error": "Repository not found"}, status_code=404)
        return JSONResponse(
            {
                "id": repo.repo_id,
                "private": repo.private,
                "sha": "0" * 40,
                "siblings": [{"rfilename": name} for name in sorted(repo.files)],
            }
        )


METADATA = re.compile(r"\A\s*---\r?\n(.*?)(?:\r?\n)?^---\s*$", re.DOTALL | re.MULTILINE)
"""A repo card's YAML header, between ``---`` lines at its top (huggingface_hub's
``REGEX_YAML_BLOCK``)."""
NO_METADATA = "empty or missing yaml metadata in repo card"


def card_metadata_problems(content: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The errors and warnings the Hub gives for a ``README.md``'s metadata.

    >>> card_metadata_problems("---\\nlibrary_name: peft\\n---\\n# Card")
    ([], [])
    >>> card_metadata_problems("# Card")[1]
    [{'message': 'empty or missing yaml metadata in repo card'}]
    """
    import yaml

    match = METADATA.match(content)
    if match is None:
        return [], [{"message": NO_METADATA}]
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        return [{"message": f"Invalid YAML in README.md metadata: {err}"}], []
    if data is None:
        return [], [{"message": NO_METADATA}]
    if not isinstance(data, dict):
        return [{"message": "README.md metadata must be a YAML mapping (key: value)"}], []
    return [], []
