"""The fine-tuning service routes, in OpenAI's flavor and in Azure OpenAI's.

One implementation serves OpenAI (``/`` and ``/v1``) and the Azure OpenAI data plane (the
dated API under ``/openai`` with ``?api-version=``, and the v1 API under ``/openai/v1``); the
flavor changes ids, statuses, model names, errors and limits the way the real services differ.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ftsdk.serving.openai_api import ApiError as OpenAIError
from ftsdk_emulator import sse, training
from ftsdk_emulator.auth import Authenticator
from ftsdk_emulator.forms import FormField, read_form
from ftsdk_emulator.state import FileObject, Flavor, Job, Store, Upload, new_id

__all__ = ["ApiError", "Service"]

Handler = Callable[[Request], Awaitable[Response]]

_AZURE_STATUS = {"validating_files": "pending", "queued": "pending"}
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_PART_BYTES = 64 * 1024 * 1024
UPLOAD_TTL = 3600


class ApiError(OpenAIError):
    """An error answer: the status, and what OpenAI / Azure put in the body."""

    def response(self, flavor: Flavor, headers: dict[str, str] | None = None) -> JSONResponse:
        """The error as the flavor's service writes it."""
        if flavor != "azure":
            return JSONResponse(self.body(), status_code=self.status, headers=headers)
        body: dict[str, Any] = {"code": self.code or str(self.status), "message": self.message}
        if self.param:
            body["param"] = self.param
        return JSONResponse({"error": body}, status_code=self.status, headers=headers)


def _page(
    items: Sequence[dict[str, Any]], request: Request, *, default_limit: int = 20
) -> dict[str, Any]:
    """Cursor pagination as OpenAI does it: ``after`` is the id of the last item seen."""
    try:
        limit = int(request.query_params.get("limit", default_limit))
    except ValueError:
        raise ApiError(400, "limit must be an integer", param="limit") from None
    after = request.query_params.get("after")
    start = 0
    if after is not None:
        ids = [item["id"] for item in items]
        if after not in ids:
            raise ApiError(400, f"Invalid 'after' cursor: {after}", param="after")
        start = ids.index(after) + 1
    data = list(items[start : start + limit])
    return {
        "object": "list",
        "data": data,
        "has_more": start + limit < len(items),
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


class Service:
    """The routes of one flavor, bound to the shared :class:`Store`."""

    def __init__(
        self,
        store: Store,
        flavor: Flavor,
        auth: Authenticator,
        *,
        dated: bool,
        validate: Callable[..., None] | None = None,
    ) -> None:
        self.store, self.flavor, self.auth, self.dated = store, flavor, auth, dated
        self._validate = validate

    # -- plumbing ----------------------------------------------------------------------
    def routes(self) -> list[Route]:
        """Every route of this flavor, relative to its mount point."""
        table: list[tuple[str, str, Handler]] = [
            ("POST", "/files", self.create_file),
            ("GET", "/files", self.list_files),
            ("GET", "/files/{file_id}", self.get_file),
            ("DELETE", "/files/{file_id}", self.delete_file),
            ("GET", "/files/{file_id}/content", self.file_content),
            ("POST", "/uploads", self.create_upload),
            ("POST", "/uploads/{upload_id}/parts", self.add_part),
            ("POST", "/uploads/{upload_id}/complete", self.complete_upload),
            ("POST", "/uploads/{upload_id}/cancel", self.cancel_upload),
            ("POST", "/fine_tuning/jobs", self.create_job),
            ("GET", "/fine_tuning/jobs", self.list_jobs),
            ("GET", "/fine_tuning/jobs/{job_id}", self.get_job),
            ("POST", "/fine_tuning/jobs/{job_id}/cancel", self.cancel_job),
            ("POST", "/fine_tuning/jobs/{job_id}/pause", self.pause_job),
            ("POST", "/fine_tuning/jobs/{job_id}/resume", self.resume_job),
            ("GET", "/fine_tuning/jobs/{job_id}/events", self.list_events),
            ("GET", "/fine_tuning/jobs/{job_id}/checkpoints", self.list_checkpoints),
            ("GET", "/models", self.list_models),
            ("GET", "/models/{model:path}", self.get_model),
            ("DELETE", "/models/{model:path}", self.delete_model),
            ("POST", "/chat/completions", self.chat),
        ]
        if self.flavor == "openai":  # Azure's v1 description is not here to check against
            table += [
                ("POST", "/fine_tuning/alpha/graders/run", self.run_grader),
                ("POST", "/fine_tuning/alpha/graders/validate", self.validate_grader),
            ]
        if self.flavor == "azure":
            table.append(("POST", "/deployments/{deployment}/chat/completions", self.chat))
        return [
            Route(path, self._wrap(handler, f"{method} {path}"), methods=[method])
            for method, path, handler in table
        ]

    def _wrap(self, handler: Handler, template: str) -> Handler:
        async def endpoint(request: Request) -> Response:
            request.state.template = template
            try:
                if self.flavor == "azure" and self.dated:
                    version = request.query_params.get("api-version")
                    if not version:
                        raise ApiError(404, "Resource not found", code="404")
                self.auth.check_service(request, self.flavor)
                if self._azure_strict():
                    from ftsdk_emulator import azure_validation

                    azure_validation.check(
                        self._azure_version(request), template, query=request.query_params.keys()
                    )
                return await handler(request)
            except ApiError as err:
                return err.response(self.flavor)

        return endpoint

    def _check(self, request: Request, *, json_body: Any = None, form: Any = None) -> None:
        """Strict mode: refuse what the API description refuses (OpenAI's for the OpenAI
        flavor; for Azure, the description of the request's API version)."""
        if self._validate is not None and self.flavor == "openai":
            self._validate(request, json_body=json_body, form=form)
        if self._azure_strict() and (json_body is not None or form is not None):
            from ftsdk_emulator import azure_validation

            names = (
                list(json_body)
                if isinstance(json_body, dict)
                else [str(name).split("[", 1)[0] for name, _ in form or []]
            )
            azure_validation.check(self._azure_version(request), request.state.template, body=names)

    def _azure_strict(self) -> bool:
        return self.flavor == "azure" and self.store.config.strict

    def _azure_version(self, request: Request) -> str | None:
        """The described Azure API version of ``request`` (``None`` for OpenAI, or a dated
        version whose description is not in the emulator)."""
        if self.flavor != "azure":
            return None
        from ftsdk_emulator import azure_validation

        return azure_validation.version_of(self.dated, request.query_params.get("api-version"))

    def _shaped(self, body: dict[str, Any], kind: str) -> dict[str, Any]:
        """``body`` with only the fields the dated Azure API's ``kind`` object has."""
        if self.flavor != "azure" or not self.dated:
            return body
        from ftsdk_emulator import azure_validation

        allowed = azure_validation.objects("2024-10-21", kind) or frozenset(body)
        return {k: v for k, v in body.items() if k in allowed}

    async def _json(self, request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "We could not parse the JSON body of your request.") from None
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        self._check(request, json_body=body)
        return body

    def _now(self) -> float:
        return self.store.clock.now()

    def _id(self, prefix: str) -> str:
        return (
            new_id(prefix, length=32, hex_only=True) if self.flavor == "azure" else new_id(prefix)
        )

    # -- files -------------------------------------------------------------------------
    def _file_json(self, f: FileObject) -> dict[str, Any]:
        status = f.status(self._now())
        body: dict[str, Any] = {
            "object": "file",
            "id": f.id,
            "bytes": len(f.content),
            "created_at": f.created_at,
            "filename": f.filename,
            "purpose": f.purpose,
            "status": status,
            "expires_at": None,
            "status_details": f.error if status == "error" else None,
        }
        return self._shaped(body, "file")

    def _get_file(self, file_id: str) -> FileObject:
        f = self.store.files.get(file_id)
        if f is None or f.flavor != self.flavor:
            raise ApiError(404, f"No such File object: {file_id}", param="id")
        return f

    def _store_file(self, filename: str, purpose: str, content: bytes) -> FileObject:
        if self.flavor == "azure":
            mine = [f for f in self.store.files.values() if f.flavor == "azure"]
            if len(mine) >= self.store.config.azure_max_files:
                raise ApiError(
                    400,
                    "The number of files for this resource has reached its "
                    f"limit of {self.store.config.azure_max_files}. Delete files "
                    "you no longer need.",
                    code="quotaExceeded",
                )
        now = self._now()
        error = None
        if purpose == "fine-tune":
            error = training.inspect_file(content, training.guess_method(content)).error
        f = FileObject(
            id=self._id("file-"),
            flavor=self.flavor,
            filename=filename,
            purpose=purpose,
            content=content,
            created_at=int(now),
            ready_at=now + self.store.config.file_processing_seconds,
            error=error,
        )
        self.store.files[f.id] = f
        return f

    def _check_form(self, request: Request, fields: list[FormField]) -> None:
        from ftsdk_emulator.openapi import FilePart

        self._check(
            request,
            form=[
                (
                    f.name,
                    FilePart(f.filename, f.content_type, len(f.value)) if f.is_file else f.text,
                )
                for f in fields
            ],
        )

    async def create_file(self, request: Request) -> Response:
        fields = await read_form(request)
        self._check_form(request, fields)
        by_name = {f.name: f for f in fields}
        upload, purpose = by_name.get("file"), by_name.get("purpose")
        if upload is None or not upload.is_file:
            raise ApiError(400, "Missing required parameter: 'file'.", param="file")
        if purpose is None:
            raise ApiError(400, "Missing required parameter: 'purpose'.", param="purpose")
        if len(upload.value) > MAX_FILE_BYTES:
            raise ApiError(
                413,
                "File is too large: the Files API takes up to 512 MB; use the "
                "Uploads API for larger files.",
                param="file",
            )
        with self.store.lock:
            f = self._store_file(upload.filename or "file", purpose.text, upload.value)
            return JSONResponse(self._file_json(f))

    async def list_files(self, request: Request) -> Response:
        purpose = request.query_params.get("purpose")
        with self.store.lock:
            files = [
                self._file_json(f)
                for f in reversed(self.store.files.values())
                if f.flavor == self.flavor and purpose in (None, f.purpose)
            ]
        if self.flavor == "azure" and self.dated:
            # 2024-10-21's FileList: every file at once, no cursor, no has_more
            return JSONResponse({"object": "list", "data": files})
        return JSONResponse(_page(files, request, default_limit=10000))

    async def get_file(self, request: Request) -> Response:
        with self.store.lock:
            return JSONResponse(self._file_json(self._get_file(request.path_params["file_id"])))

    async def delete_file(self, request: Request) -> Response:
        with self.store.lock:
            f = self._get_file(request.path_params["file_id"])
            del self.store.files[f.id]
        return JSONResponse({"object": "file", "id": f.id, "deleted": True})

    async def file_content(self, request: Request) -> Response:
        with self.store.lock:
            f = self._get_file(request.path_params["file_id"])
        return Response(f.content, media_type="application/octet-stream")

    # -- uploads -----------------------------------------------------------------------
    def _upload_json(self, u: Upload) -> dict[str, Any]:
        if u.status == "pending" and self._now() >= u.expires_at:
            u.status = "expired"
        file = self._file_json(self.store.files[u.file_id]) if u.file_id else None
        return {
            "object": "upload",
            "id": u.id,
            "bytes": u.size,
            "created_at": u.created_at,
            "expires_at": u.expires_at,
            "filename": u.filename,
            "purpose": u.purpose,
            "status": u.status,
            "file": file,
        }

    def _pending_upload(self, upload_id: str) -> Upload:
        u = self.store.uploads.get(upload_id)
        if u is None:
            raise ApiError(404, f"No such Upload object: {upload_id}", param="upload_id")
        self._upload_json(u)  # applies expiry
        if u.status != "pending":
            raise ApiError(
                400,
                f"Upload {upload_id} is {u.status}; it can no longer be changed.",
                param="upload_id",
            )
        return u

    async def create_upload(self, request: Request) -> Response:
        body = await self._json(request)
        now = int(self._now())
        u = Upload(
            id=new_id("upload_"),
            filename=str(body.get("filename")),
            purpose=str(body.get("purpose")),
            size=int(body.get("bytes", 0)),
            mime_type=str(body.get("mime_type")),
            created_at=now,
            expires_at=now + UPLOAD_TTL,
        )
        if u.size > 8 * 1024**3:
            raise ApiError(400, "Uploads can be at most 8 GB.", param="bytes")
        with self.store.lock:
            self.store.uploads[u.id] = u
            return JSONResponse(self._upload_json(u))

    async def add_part(self, request: Request) -> Response:
        fields = await read_form(request)
        self._check_form(request, fields)
        data = next((f for f in fields if f.name == "data" and f.is_file), None)
        if data is None:
            raise ApiError(400, "Missing required parameter: 'data'.", param="data")
        chunk = data.value
        if len(chunk) > MAX_PART_BYTES:
            raise ApiError(400, "Each part can be at most 64 MB.", param="data")
        with self.store.lock:
            u = self._pending_upload(request.path_params["upload_id"])
            part_id = new_id("part_")
            u.parts[part_id] = chunk
            return JSONResponse(
                {
                    "object": "upload.part",
                    "id": part_id,
                    "created_at": int(self._now()),
                    "upload_id": u.id,
                }
            )

    async def complete_upload(self, request: Request) -> Response:
        body = await self._json(request)
        part_ids = body.get("part_ids")
        if not isinstance(part_ids, list) or not part_ids:
            raise ApiError(400, "part_ids must list the parts in order.", param="part_ids")
        with self.store.lock:
            u = self._pending_upload(request.path_params["upload_id"])
            missing = [p for p in part_ids if p not in u.parts]
            if missing:
                raise ApiError(400, f"Unknown part ids: {', '.join(missing)}", param="part_ids")
            content = b"".join(u.parts[p] for p in part_ids)
            if len(content) != u.size:
                raise ApiError(
                    400,
                    f"The upload was created with bytes={u.size} but the parts "
                    f"add up to {len(content)} bytes.",
                    param="part_ids",
                )
            u.file_id = self._store_file(u.filename, u.purpose, content).id
            u.status = "completed"
            u.parts = dict.fromkeys(u.parts, b"")  # the file holds the bytes now
            return JSONResponse(self._upload_json(u))

    async def cancel_upload(self, request: Request) -> Response:
        with self.store.lock:
            u = self._pending_upload(request.path_params["upload_id"])
            u.status = "cancelled"
            return JSONResponse(self._upload_json(u))

    # -- jobs --------------------------------------------------------------------------
    def _job_json(self, job: Job) -> dict[str, Any]:
        training.advance(self.store, job, self._now())
        status = job.status
        if self.flavor == "azure":
            status = _AZURE_STATUS.get(status, status)
        method_type = job.method.get("type", "supervised")
        hyper = dict(job.hyperparameters)
        body = {
            "object": "fine_tuning.job",
            "id": job.id,
            "model": job.model,
            "created_at": job.created_at,
            "finished_at": job.finished_at,
            "fine_tuned_model": job.fine_tuned_model,
            "organization_id": self.store.config.organization,
            "result_files": list(job.result_files),
            "status": status,
            "validation_file": job.validation_file,
            "training_file": job.training_file,
            "hyperparameters": {
                k: hyper[k]
                for k in ("n_epochs", "batch_size", "learning_rate_multiplier")
                if k in hyper
            },
            "trained_tokens": job.trained_tokens,
            "error": job.error,
            "user_provided_suffix": job.suffix,
            "seed": job.seed,
            "estimated_finish": job.estimated_finish,
            "integrations": job.integrations,
            "metadata": job.metadata,
            "method": {"type": method_type, method_type: self._method_details(job, hyper)},
        }
        if self.flavor == "azure":
            # As Azure answers (BerriAI/litellm PR #24687, seen live): no organization,
            # no result files list until there are results.
            body["organization_id"] = None
            if not job.result_files:
                body["result_files"] = None
            if self.dated:
                body.update(suffix=job.suffix, organisation_id=None)
        return self._shaped(body, "job")

    @staticmethod
    def _method_details(job: Job, hyper: dict[str, Any]) -> dict[str, Any]:
        """What a job says under ``method.<type>``: its hyperparameters, and a
        reinforcement job's grader as it was given."""
        if job.method.get("type") == "reinforcement":
            return {"grader": job.method["grader"], "hyperparameters": hyper}
        return {"hyperparameters": hyper}

    def _job(self, job_id: str) -> Job:
        job = self.store.jobs.get(job_id)
        if job is None or job.flavor != self.flavor:
            raise ApiError(
                404,
                f"Could not find fine-tune: {job_id}",
                param="fine_tune_id",
                code="fine_tune_not_found" if self.flavor == "openai" else "NotFound",
            )
        return job

    def _training_file(self, file_id: object, param: str) -> FileObject:
        if not isinstance(file_id, str):
            raise ApiError(400, f"Missing required parameter: '{param}'.", param=param)
        f = self.store.files.get(file_id)
        if f is None or f.flavor != self.flavor:
            raise ApiError(400, f"Invalid file ID: {file_id}", param=param, code="invalid_file")
        status = f.status(self._now())
        if status in ("uploaded", "pending"):
            raise ApiError(
                400,
                f"File {file_id} is still being processed and is not ready to "
                "be used for fine-tuning. Please try again later.",
                param=param,
                code="file_not_ready",
            )
        if status == "error":
            raise ApiError(
                400,
                f"File {file_id} has errors: {f.error}",
                param=param,
                code="invalid_training_file",
            )
        return f

    async def create_job(self, request: Request) -> Response:
        body = await self._json(request)
        cfg = self.store.config
        if not cfg.training_available and self.flavor == "openai":
            raise ApiError(
                403,
                "Fine-tuning jobs can no longer be created for this "
                "organization: OpenAI has ended self-serve fine-tuning training. "
                "Existing fine-tuned models remain available for inference.",
                code="training_not_available",
            )
        model = body.get("model")
        method = body.get("method") or {"type": "supervised"}
        method_type = method.get("type", "supervised")
        known = (cfg.azure_models if self.flavor == "azure" else cfg.openai_models) + cfg.rft_models
        base = model.split(".ft-")[0] if isinstance(model, str) else model
        if self.flavor == "openai" and isinstance(model, str) and model.startswith("ft:"):
            base = model.split(":")[1]
        if base not in known:
            if self.flavor == "azure":
                raise ApiError(
                    400,
                    f"The specified base model {model} does not support "
                    f"fine-tuning. Models you can fine-tune: {', '.join(known)}.",
                    param="model",
                    code="invalidPayload",
                )
            raise ApiError(
                400,
                f"Model {model} is not available for fine-tuning or does not exist.",
                param="model",
                code="model_not_available",
            )
        grader = self._check_method(str(model), str(base), method)
        given = dict(
            (method.get(method_type) or {}).get("hyperparameters")
            or body.get("hyperparameters")
            or {}
        )
        with self.store.lock:
            if self.flavor == "azure":
                active = [
                    j
                    for j in self.store.jobs.values()
                    if j.flavor == "azure" and j.status not in ("succeeded", "failed", "cancelled")
                ]
                for j in active:
                    training.advance(self.store, j, self._now())
                active = [j for j in active if j.status not in ("succeeded", "failed", "cancelled")]
                if len(active) >= cfg.azure_max_active_jobs:
                    raise ApiError(
                        429,
                        "This resource already runs "
                        f"{len(active)} fine-tuning job(s), its limit; wait for it "
                        "to finish.",
                        code="quotaExceeded",
                    )
            train = self._training_file(body.get("training_file"), "training_file")
            if body.get("validation_file") is not None:
                self._training_file(body["validation_file"], "validation_file")
            summary, hyper = self._sized(train, method_type, given)
            n_tokens = summary.tokens
            steps = max(1, math.ceil(summary.examples * hyper["n_epochs"] / hyper["batch_size"]))
            now = self._now()
            job = Job(
                id=self._id("ftjob-"),
                flavor=self.flavor,
                model=str(model),
                training_file=train.id,
                validation_file=body.get("validation_file"),
                method={"type": method_type, "grader": grader}
                if grader is not None
                else {"type": method_type},
                hyperparameters=hyper,
                suffix=body.get("suffix"),
                seed=int(body.get("seed") or 42),
                metadata=body.get("metadata"),
                integrations=body.get("integrations"),
                created_at=int(now),
                n_examples=summary.examples,
                n_tokens=n_tokens,
                total_steps=steps,
                last_tick=now,
            )
            failure = self.store.next_job_failure
            if failure is not None:
                job.fail_at_step, job.fail_error = failure["at_step"], failure["error"]
                self.store.next_job_failure = None
            training.add_event(job, now, f"Created fine-tuning job: {job.id}")
            training.add_event(job, now, f"Validating training file: {train.id}")
            self.store.jobs[job.id] = job
            status = 201 if self.flavor == "azure" else 200
            return JSONResponse(self._job_json(job), status_code=status)

    def _check_method(self, model: str, base: str, method: dict[str, Any]) -> Any:
        """Refuse a method the base model does not train with; a reinforcement job's
        grader (checked), else ``None``."""
        cfg = self.store.config
        method_type = method.get("type", "supervised")
        if method_type == "dpo" and self.flavor == "openai" and base not in cfg.dpo_models:
            raise ApiError(
                400,
                f"Model {model} does not support DPO fine-tuning.",
                param="method.type",
                code="model_not_available",
            )
        if method_type not in ("supervised", "dpo", "reinforcement"):
            raise ApiError(400, f"Unsupported method type: {method_type}", param="method.type")
        if (method_type == "reinforcement") != (base in cfg.rft_models):
            raise ApiError(
                400,
                f"Model {model} does not support {method_type} fine-tuning.",
                param="method.type",
                code="model_not_available",
            )
        return self._job_grader(method) if method_type == "reinforcement" else None

    def _sized(
        self, train: FileObject, method_type: str, given: dict[str, Any]
    ) -> tuple[training.FileSummary, dict[str, Any]]:
        """The training file read for ``method_type``, and the hyperparameters filled."""
        summary = training.inspect_file(train.content, method_type)
        if summary.error:  # uploaded as a file for another method: the job says why
            raise ApiError(
                400,
                f"File {train.id} is not valid for {method_type} fine-tuning: {summary.error}",
                param="training_file",
                code="invalid_training_file",
            )
        examples = max(summary.examples, 1)
        if method_type != "reinforcement":
            return summary, training.auto_hyperparameters(examples, given)
        return summary, training.auto_reinforcement(examples, given)

    def _job_grader(self, method: dict[str, Any]) -> dict[str, Any]:
        """The reinforcement job's grader, read by ``ftsdk.graders`` and checked against
        what this flavor's service takes (Azure takes no ``python`` grader)."""
        from ftsdk.errors import InvalidRequest
        from ftsdk.graders import AZURE_RFT, OPENAI_RFT, check_grader

        given = (method.get("reinforcement") or {}).get("grader")
        if not isinstance(given, dict):
            raise ApiError(
                400,
                "Missing required parameter: 'method.reinforcement.grader'.",
                param="method.reinforcement.grader",
            )
        try:
            check_grader(self._grader(given), AZURE_RFT if self.flavor == "azure" else OPENAI_RFT)
        except InvalidRequest as err:
            raise ApiError(400, err.message, param="method.reinforcement.grader") from None
        return given

    def _grader(self, given: object) -> Any:
        """``given`` read as a grader; a 400 naming ``grader`` when it is not one."""
        from ftsdk.errors import InvalidRequest
        from ftsdk.graders import parse_grader

        if not isinstance(given, dict):
            raise ApiError(400, "Missing required parameter: 'grader'.", param="grader")
        try:
            return parse_grader(given)
        except InvalidRequest as err:
            raise ApiError(400, f"Invalid grader: {err.message}", param="grader") from None

    async def run_grader(self, request: Request) -> Response:
        """``POST /fine_tuning/alpha/graders/run``: the grader scores ``model_sample``
        against ``item``, run by ``ftsdk.graders`` (a score-model grader has no model
        here: it scores 0 with ``model_grader_server_error``)."""
        body = await self._json(request)
        grader = self._grader(body.get("grader"))
        sample, item = body.get("model_sample"), body.get("item")
        if not isinstance(sample, str):
            raise ApiError(400, "Missing required parameter: 'model_sample'.", param="model_sample")
        if item is not None and not isinstance(item, dict):
            raise ApiError(400, "'item' must be an object.", param="item")
        return JSONResponse(grader.run(sample, item=item).to_api())

    async def validate_grader(self, request: Request) -> Response:
        """``POST /fine_tuning/alpha/graders/validate``: the grader back when it is one the
        service takes; a 400 saying why when not."""
        from ftsdk.errors import InvalidRequest
        from ftsdk.graders import OPENAI_RFT, check_grader

        body = await self._json(request)
        grader = self._grader(body.get("grader"))
        try:
            check_grader(grader, OPENAI_RFT)
        except InvalidRequest as err:
            raise ApiError(400, err.message, param="grader") from None
        return JSONResponse({"grader": grader.to_api()})

    async def list_jobs(self, request: Request) -> Response:
        wanted = {
            key[len("metadata[") : -1]: value
            for key, value in request.query_params.items()
            if key.startswith("metadata[") and key.endswith("]")
        }
        self._check(request)
        with self.store.lock:
            jobs = [
                self._job_json(j)
                for j in reversed(self.store.jobs.values())
                if j.flavor == self.flavor
                and all((j.metadata or {}).get(k) == v for k, v in wanted.items())
            ]
        return JSONResponse(_page(jobs, request))

    async def get_job(self, request: Request) -> Response:
        with self.store.lock:
            return JSONResponse(self._job_json(self._job(request.path_params["job_id"])))

    def _transition(
        self, request: Request, allowed: tuple[str, ...], verb: str, to: str
    ) -> Response:
        with self.store.lock:
            job = self._job(request.path_params["job_id"])
            training.advance(self.store, job, self._now())
            if job.status not in allowed:
                raise ApiError(
                    400, f"Cannot {verb} a job that is {job.status}.", param="fine_tuning_job_id"
                )
            now = self._now()
            if to == "cancelled":
                training.finish(job, now, "cancelled")
            else:
                job.status = to
                job.last_tick = now
            training.add_event(
                job,
                now,
                {
                    "cancelled": "Fine-tuning job cancelled",
                    "paused": "Fine-tuning job paused",
                    "running": "Fine-tuning job resumed",
                }[to],
            )
            return JSONResponse(self._job_json(job))

    async def cancel_job(self, request: Request) -> Response:
        return self._transition(
            request, ("validating_files", "queued", "running", "paused"), "cancel", "cancelled"
        )

    async def pause_job(self, request: Request) -> Response:
        self._no_pause_on_dated_azure()
        return self._transition(request, ("running",), "pause", "paused")

    async def resume_job(self, request: Request) -> Response:
        self._no_pause_on_dated_azure()
        return self._transition(request, ("paused",), "resume", "running")

    def _no_pause_on_dated_azure(self) -> None:
        if self.flavor == "azure" and self.dated:
            raise ApiError(404, "Resource not found", code="404")

    async def list_events(self, request: Request) -> Response:
        self._check(request)
        with self.store.lock:
            job = self._job(request.path_params["job_id"])
            training.advance(self.store, job, self._now())
            events = [
                {
                    "object": "fine_tuning.job.event",
                    "id": e.id,
                    "created_at": e.created_at,
                    "level": e.level,
                    "message": e.message,
                    "type": e.type,
                    "data": e.data,
                }
                for e in job.events
            ]
        if self.flavor == "openai":
            events.reverse()  # OpenAI lists newest first; Azure's dated API oldest first
        return JSONResponse(_page(events, request))

    async def list_checkpoints(self, request: Request) -> Response:
        with self.store.lock:
            job = self._job(request.path_params["job_id"])
            training.advance(self.store, job, self._now())
            items = [
                {
                    "object": "fine_tuning.job.checkpoint",
                    "id": c.id,
                    "created_at": c.created_at,
                    "fine_tuned_model_checkpoint": c.model,
                    "step_number": c.step,
                    "metrics": c.metrics,
                    "fine_tuning_job_id": job.id,
                }
                for c in reversed(job.checkpoints)
            ]
        return JSONResponse(_page(items, request, default_limit=10))

    # -- models ------------------------------------------------------------------------
    def _model_json(self, model_id: str) -> dict[str, Any]:
        entry = self.store.models.get(model_id)
        owner = self.store.config.organization if entry else "system"
        created = entry["created"] if entry else 1_700_000_000
        return {"object": "model", "id": model_id, "created": created, "owned_by": owner}

    def _base_models(self) -> tuple[str, ...]:
        cfg = self.store.config
        return cfg.azure_models if self.flavor == "azure" else cfg.openai_models

    def _visible_models(self) -> list[str]:
        for job in self.store.jobs.values():
            training.advance(self.store, job, self._now())
        tuned = [
            m
            for m, e in self.store.models.items()
            if self.store.jobs[e["job"]].flavor == self.flavor and not e["checkpoint"]
        ]
        return [*self._base_models(), *tuned]

    async def list_models(self, request: Request) -> Response:
        with self.store.lock:
            data = [self._model_json(m) for m in self._visible_models()]
        return JSONResponse({"object": "list", "data": data})

    async def get_model(self, request: Request) -> Response:
        model = request.path_params["model"]
        with self.store.lock:
            if model not in self._visible_models() and model not in self.store.models:
                raise ApiError(
                    404,
                    f"The model '{model}' does not exist",
                    param="model",
                    code="model_not_found",
                )
            return JSONResponse(self._model_json(model))

    async def delete_model(self, request: Request) -> Response:
        model = request.path_params["model"]
        with self.store.lock:
            entry = self.store.models.get(model)
            if entry is None:
                if model in self._base_models():
                    raise ApiError(
                        403,
                        f"You do not have permission to delete {model}.",
                        param="model",
                        code="permission_denied",
                    )
                raise ApiError(
                    404,
                    f"The model '{model}' does not exist",
                    param="model",
                    code="model_not_found",
                )
            del self.store.models[model]
        return JSONResponse({"object": "model", "id": model, "deleted": True})

    # -- inference ---------------------------------------------------------------------
    async def chat(self, request: Request) -> Response:
        body = await self._json(request)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "'messages' must be a non-empty array.", param="messages")
        stream, options = body.get("stream") is True, body.get("stream_options")
        if options is not None and self._azure_strict() and self.dated:
            # Azure's inference 2024-10-21 chat request defines no stream_options
            # (specification/cognitiveservices/data-plane/AzureOpenAI/inference/stable/
            # 2024-10-21/inference.json, not copied here; see issue 15).
            raise ApiError(
                400,
                "The field 'stream_options' is not defined in API version "
                f"{request.query_params.get('api-version')}.",
                param="stream_options",
                code="invalidPayload",
            )
        if options is not None and not stream:
            raise ApiError(
                400,
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
            )
        options = options if isinstance(options, dict) else {}
        with self.store.lock:
            model = self._chat_model(request, body)
            text = training.answer(self.store, model, messages)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        words = text.split(" ")
        finish = "stop"
        if isinstance(max_tokens, int) and len(words) > max_tokens:
            text, finish = " ".join(words[:max_tokens]), "length"
        prompt_tokens = sum(
            training.count_tokens(str(m.get("content", ""))) + 3
            for m in messages
            if isinstance(m, dict)
        )
        completion_tokens = training.count_tokens(text)
        now = int(self._now())
        completion = {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": now,
            "model": model,
            "system_fingerprint": "fp_" + hashlib.sha256(model.encode()).hexdigest()[:10],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": finish,
                    "logprobs": None,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        if stream:
            return StreamingResponse(
                sse.events(
                    sse.chunks(
                        completion,
                        include_usage=options.get("include_usage") is True,
                        obfuscation=self.flavor == "openai"
                        and options.get("include_obfuscation") is not False,
                        prompt_filter=self.flavor == "azure",
                    ),
                    interval=self.store.config.stream_interval,
                ),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache"},
            )
        return JSONResponse(completion)

    def _chat_model(self, request: Request, body: dict[str, Any]) -> str:
        if self.flavor == "azure":
            name = request.path_params.get("deployment") or body.get("model")
            deployment = self.store.deployments.get(str(name))
            if deployment is None or deployment.status(self._now()) != "Succeeded":
                raise ApiError(
                    404,
                    "The API deployment for this resource does not exist. If "
                    "you created the deployment within the last 5 minutes, please "
                    "wait a moment and try again.",
                    code="DeploymentNotFound",
                )
            return deployment.model
        model = body.get("model")
        if not isinstance(model, str) or (
            model not in self.store.models and model not in self._base_models()
        ):
            raise ApiError(
                404,
                f"The model '{model}' does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        return model
