"""A local stand-in for the Hugging Face Hub API, on 127.0.0.1, for ``HF_ENDPOINT``.

It answers what ``huggingface_hub`` (0.27 as AutoTrain pins it, and 1.x) calls to push a model
(``HfApi.create_repo`` / ``upload_folder``), a dataset (``datasets.push_to_hub``) and to run
an AutoTrain Space: repo creation, pre-upload (every file ``uploadMode: regular``, so no
LFS), commits, file downloads, listings, a Space's secrets, sleep time and runtime stage,
``whoami``, Hugging Face Jobs (:mod:`ftsdk_emulator.hub_jobs`: each job's command runs as a
local process) and the model-card check (``POST /api/validate-yaml``: the YAML header of a
``README.md`` must parse to a mapping, as on the Hub). Inference Endpoints' create call
(``POST /v2/endpoint/{namespace}``) is answered too, for a test that points AutoTrain's
endpoints URL here.

Every request must carry the one token the test gave (``Authorization: Bearer``), or it is
answered 401 as the Hub does; each is recorded in :attr:`HubEmulator.requests` (never the
token, nor a secret's value). ``GET /api/agent-harnesses``, which ``huggingface_hub`` 1.x
fetches by itself once per process, is answered without a token and only counted
(:attr:`HubEmulator.registry_fetches`). Unknown routes answer 404::

    with HubEmulator(token="hf_test") as hub:
        os.environ["HF_ENDPOINT"] = hub.url
        ...
        assert hub.repos["me/my-model"].files["config.json"]
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ftsdk.serving.thread import ServerThread
from ftsdk_emulator.hub_jobs import HubJobs

__all__ = ["HubEmulator", "HubRepo", "HubRequest", "card_metadata_problems"]

_KINDS = {"models": "model", "datasets": "dataset", "spaces": "space"}
"""URL segment (``/api/{kind}/...``) → repo type."""
_SPACE_ACTIONS = ("sleeptime", "hardware", "restart", "pause")
COMMIT = "a" * 40
"""The revision every repo is at (its info's ``sha``, its files' ``X-Repo-Commit``)."""
"""Space calls answered with the Space's runtime, as the Hub does."""


@dataclass
class HubRepo:
    """A repository on the emulated Hub."""

    repo_id: str
    """``owner/name``."""
    private: bool
    repo_type: str = "model"
    """``model``, ``dataset`` or ``space``."""
    files: dict[str, bytes] = field(default_factory=dict, repr=False)
    """Committed files: path in the repo → content."""
    commits: list[str] = field(default_factory=list)
    """Commit summaries, oldest first."""
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    """A Space's secrets, in the order they were added."""
    settings: dict[str, Any] = field(default_factory=dict)
    """What else the creation call said (a Space's ``sdk``, ``hardware``, ...)."""

    @property
    def key(self) -> str:
        """Its key in :attr:`HubEmulator.repos`: the repo's path on the Hub's website
        (``owner/name`` for a model, ``datasets/owner/name``, ``spaces/owner/name``)."""
        return repo_key(self.repo_type, self.repo_id)


@dataclass(frozen=True)
class HubRequest:
    """One request the emulated Hub answered (the token and secret values left out)."""

    method: str
    path: str
    """Without the query string."""
    body: Any
    """The JSON body, a list for NDJSON (a commit), ``None`` for none."""
    authorized: bool
    """Whether it carried the token the emulator accepts."""


def repo_key(repo_type: str, repo_id: str) -> str:
    """``owner/name`` for a model, ``{type}s/owner/name`` otherwise (the Hub's URLs)."""
    return repo_id if repo_type == "model" else f"{repo_type}s/{repo_id}"


class HubEmulator:
    """The Hub's API on 127.0.0.1; a context manager that starts and stops it.

    :param token: the one token accepted.
    :param user: the account the token belongs to (``whoami``, the owner of a repo created
        without an organization).
    """

    def __init__(self, token: str = "hf_emulator_token", *, user: str = "emulator") -> None:
        self.token = token
        self.user = user
        self.repos: dict[str, HubRepo] = {}
        """Repos by :attr:`HubRepo.key`."""
        self.requests: list[HubRequest] = []
        self.registry_fetches = 0
        """``GET /api/agent-harnesses``: huggingface_hub's own call, not the caller's."""
        self.space_stage = "RUNNING"
        """The stage every Space reports (``GET /api/spaces/{id}/runtime``); set it to move
        a run along, e.g. ``PAUSED`` as AutoTrain's Space does when training ends."""
        self._lock = threading.Lock()
        self.jobs = HubJobs(self._record, user=user)
        """Hugging Face Jobs: each job's command runs as a local process (see
        :mod:`ftsdk_emulator.hub_jobs`)."""
        repo = "/api/{kind}/{ns}/{name}"
        routes = [
            *self.jobs.routes(),
            Route("/api/whoami-v2", self._whoami, methods=["GET"]),
            Route("/api/agent-harnesses", self._harnesses, methods=["GET"]),
            Route("/api/repos/create", self._create, methods=["POST"]),
            # upload_folder sends a README.md here before hashing anything.
            Route("/api/validate-yaml", self._validate_yaml, methods=["POST"]),
            Route("/api/spaces/{ns}/{name}/runtime", self._runtime, methods=["GET"]),
            Route("/api/spaces/{ns}/{name}/secrets", self._secret, methods=["POST"]),
            Route("/api/spaces/{ns}/{name}/{action}", self._space_action, methods=["POST"]),
            Route(repo + "/preupload/{revision}", self._preupload, methods=["POST"]),
            Route(repo + "/commit/{revision}", self._commit, methods=["POST"]),
            Route(repo + "/tree/{revision}", self._tree, methods=["GET"]),
            Route(repo + "/tree/{revision}/{path:path}", self._tree, methods=["GET"]),
            Route(repo + "/revision/{revision}", self._info, methods=["GET"]),
            Route(repo, self._info, methods=["GET"]),
            Route("/v2/endpoint/{namespace}", self._endpoint, methods=["POST"]),
            # Downloads (GET, and HEAD for the metadata): /{datasets|spaces}/... or /{model}.
            Route(
                "/{kind}/{ns}/{name}/resolve/{revision}/{path:path}", self._file, methods=["GET"]
            ),
            Route("/{ns}/{name}/resolve/{revision}/{path:path}", self._file, methods=["GET"]),
            Route("/{path:path}", self._unknown, methods=["GET", "POST", "PUT", "DELETE"]),
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
        """Stop serving, killing the jobs still running."""
        self.jobs.stop_all()
        self._server.stop()

    def __enter__(self) -> HubEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_repo(self, repo_id: str, *, repo_type: str = "model", private: bool = True) -> HubRepo:
        """A repo that exists without this test creating it (e.g. the model a Space pushed)."""
        with self._lock:
            repo = self.repos.setdefault(
                repo_key(repo_type, repo_id), HubRepo(repo_id, private, repo_type)
            )
        return repo

    def calls(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request, in order."""
        return [(r.method, r.path) for r in self.requests]

    def runtime(self) -> dict[str, Any]:
        """A Space's runtime, as ``GET /api/spaces/{id}/runtime`` answers."""
        return {
            "stage": self.space_stage,
            "hardware": {"current": None, "requested": "a10g-large"},
            "storage": None,
            "gcTimeout": 604800,
        }

    async def _record(self, request: Request, body: Any = None) -> Response | None:
        """Record the request; the 401 to answer when it lacks the token."""
        authorized = request.headers.get("authorization") == f"Bearer {self.token}"
        self.requests.append(HubRequest(request.method, request.url.path, body, authorized))
        if not authorized:
            return JSONResponse(
                {"error": "Invalid credentials in Authorization header"}, status_code=401
            )
        return None

    async def _body(self, request: Request) -> Any:
        raw = await request.body()
        if not raw:
            return None
        try:
            if "ndjson" in request.headers.get("content-type", ""):
                return [json.loads(line) for line in raw.splitlines() if line.strip()]
            return json.loads(raw)
        except ValueError:
            return None

    def _repo(self, request: Request, kind: str = "models") -> HubRepo | None:
        kind = request.path_params.get("kind", kind)
        repo_id = f"{request.path_params['ns']}/{request.path_params['name']}"
        return self.repos.get(repo_key(_KINDS.get(kind, ""), repo_id))

    async def _whoami(self, request: Request) -> Response:
        return await self._record(request) or JSONResponse(
            {"name": self.user, "type": "user", "orgs": []}
        )

    async def _harnesses(self, request: Request) -> Response:
        self.registry_fetches += 1  # public, no token
        return JSONResponse({"standardEnvVars": [], "harnesses": {}})

    async def _create(self, request: Request) -> Response:
        body = await self._body(request) or {}
        if (denied := await self._record(request, body)) is not None:
            return denied
        repo_type = body.get("type") or "model"
        repo_id = f"{body.get('organization') or self.user}/{body['name']}"
        url = f"{self.url}/{repo_key(repo_type, repo_id)}"
        with self._lock:
            if repo_key(repo_type, repo_id) in self.repos:
                return JSONResponse(
                    {"error": f"You already created this {repo_type} repo", "url": url}, 409
                )
            private = bool(body.get("private")) or body.get("visibility") == "private"
            settings = {k: v for k, v in body.items() if k not in ("name", "organization")}
            repo = HubRepo(repo_id, private, repo_type, settings=settings)
            self.repos[repo.key] = repo
        return JSONResponse({"url": url, "name": repo_id})

    async def _validate_yaml(self, request: Request) -> Response:
        """The Hub's answer for a repo card: ``{"errors": [...], "warnings": [...]}``, each
        ``{"message": ...}``, status 400 when there are errors. Only the YAML itself is
        checked (the Hub also checks known keys such as ``license`` against its lists)."""
        body = await self._body(request)
        if (denied := await self._record(request, body)) is not None:
            return denied
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, str):
            return JSONResponse({"errors": [{"message": '"content" must be a string'}]}, 400)
        problems, warnings = card_metadata_problems(content)
        return JSONResponse(
            {"errors": problems, "warnings": warnings}, status_code=400 if problems else 200
        )

    async def _preupload(self, request: Request) -> Response:
        body = await self._body(request) or {}
        if (denied := await self._record(request, body)) is not None:
            return denied
        if self._repo(request) is None:
            return _missing("Repository not found")
        files = [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
            for f in body.get("files", [])
        ]
        return JSONResponse({"files": files})

    async def _commit(self, request: Request) -> Response:
        body = await self._body(request)
        if (denied := await self._record(request, body)) is not None:
            return denied
        repo = self._repo(request)
        if repo is None:
            return _missing("Repository not found")
        summary, added, deleted = "", {}, set()
        for item in body if isinstance(body, list) else []:
            value = item.get("value", {})
            if item.get("key") == "header":
                summary = value.get("summary", "")
            elif item.get("key") == "file":
                added[value["path"]] = base64.b64decode(value.get("content") or "")
            elif item.get("key") == "deletedFile":
                deleted.add(value["path"])
        with self._lock:
            for path in deleted:
                repo.files.pop(path, None)
            repo.files.update(added)
            repo.commits.append(summary)
            oid = hashlib.sha1(repr(sorted(repo.files.items())).encode()).hexdigest()
        return JSONResponse(
            {
                "commitUrl": f"{self.url}/{repo.key}/commit/{oid}",
                "commitOid": oid,
                "success": True,
                "pullRequestUrl": None,
            }
        )

    async def _info(self, request: Request) -> Response:
        if (denied := await self._record(request)) is not None:
            return denied
        repo = self._repo(request)
        if repo is None:
            return _missing("Repository not found")
        return JSONResponse(
            {
                "id": repo.repo_id,
                "private": repo.private,
                "sha": COMMIT,  # the X-Repo-Commit of its files: one snapshot in the cache
                "siblings": [{"rfilename": name} for name in sorted(repo.files)],
            }
        )

    async def _tree(self, request: Request) -> Response:
        if (denied := await self._record(request)) is not None:
            return denied
        repo = self._repo(request)
        if repo is None:
            return _missing("Repository not found")
        under = request.path_params.get("path", "").strip("/")
        listing = [
            {"type": "file", "path": path, "oid": _etag(data), "size": len(data)}
            for path, data in sorted(repo.files.items())
            if not under or path.startswith(under + "/")
        ]
        return JSONResponse(listing)

    async def _file(self, request: Request) -> Response:
        if (denied := await self._record(request)) is not None:
            return denied
        kind = request.path_params.get("kind", "models")
        repo = self._repo(request, kind) if kind in _KINDS else None
        data = None if repo is None else repo.files.get(request.path_params["path"])
        if data is None:
            code = "RepoNotFound" if repo is None else "EntryNotFound"
            return Response(status_code=404, headers={"X-Error-Code": code})
        headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{_etag(data)}"'}
        return Response(data, headers=headers)

    async def _runtime(self, request: Request) -> Response:
        if (denied := await self._record(request)) is not None:
            return denied
        if self._repo(request, "spaces") is None:
            return _missing("Space not found")
        return JSONResponse(self.runtime())

    async def _secret(self, request: Request) -> Response:
        body = await self._body(request) or {}
        # The value is the Space's secret: kept on the repo, never in the request log.
        if (denied := await self._record(request, {"key": body.get("key")})) is not None:
            return denied
        repo = self._repo(request, "spaces")
        if repo is None:
            return _missing("Space not found")
        with self._lock:
            repo.secrets[str(body.get("key"))] = str(body.get("value", ""))
        return JSONResponse({})

    async def _space_action(self, request: Request) -> Response:
        if request.path_params["action"] not in _SPACE_ACTIONS:
            return await self._unknown(request)
        if (denied := await self._record(request, await self._body(request))) is not None:
            return denied
        if self._repo(request, "spaces") is None:
            return _missing("Space not found")
        return JSONResponse(self.runtime())

    async def _endpoint(self, request: Request) -> Response:
        body = await self._body(request) or {}
        if (denied := await self._record(request, body)) is not None:
            return denied
        return JSONResponse({"name": body.get("name"), "status": "pending"})

    async def _unknown(self, request: Request) -> Response:
        await self._record(request, await self._body(request))
        return _missing(f"no such Hub route: {request.method} {request.url.path}")


def _missing(message: str) -> Response:
    return JSONResponse({"error": message}, 404, headers={"X-Error-Code": "RepoNotFound"})


def _etag(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


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
