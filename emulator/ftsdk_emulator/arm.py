"""Azure Resource Manager: deployments of the emulated Azure OpenAI resource.

``PUT/GET/DELETE /subscriptions/{sub}/resourceGroups/{rg}/providers/
Microsoft.CognitiveServices/accounts/{account}/deployments/{name}?api-version=...``, with
``provisioningState`` going Creating → Succeeded (or Failed), an ``Azure-AsyncOperation``
status URL and ``Retry-After`` on the long-running PUT, as in Azure's published examples.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ftsdk_emulator.auth import Authenticator
from ftsdk_emulator.service import ApiError
from ftsdk_emulator.state import Deployment, Store, new_id

__all__ = ["ArmService"]

ACCOUNT = (
    "/subscriptions/{sub}/resourceGroups/{rg}/providers/"
    "Microsoft.CognitiveServices/accounts/{account}"
)
SKUS = {
    "standard": "Standard",
    "globalstandard": "GlobalStandard",
    "developertier": "DeveloperTier",
    "developer": "DeveloperTier",
}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
QUOTA = 100
"""Capacity units (thousands of tokens per minute) the resource may deploy in all."""


class ArmService:
    """ARM routes for deployments, bound to the shared :class:`Store`."""

    def __init__(self, store: Store, auth: Authenticator) -> None:
        self.store, self.auth = store, auth
        self.operations: dict[str, str] = {}

    def routes(self) -> list[Route]:
        """The ARM routes."""
        base = ACCOUNT + "/deployments"
        return [
            Route(base, self._wrap(self.list), methods=["GET"]),
            Route(base + "/{name}", self._wrap(self.put), methods=["PUT"]),
            Route(base + "/{name}", self._wrap(self.get), methods=["GET"]),
            Route(base + "/{name}", self._wrap(self.delete), methods=["DELETE"]),
            Route(
                base + "/{name}/operationStatuses/{op}", self._wrap(self.operation), methods=["GET"]
            ),
        ]

    def _wrap(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                if not request.query_params.get("api-version"):
                    raise ApiError(
                        400,
                        "The api-version query parameter (?api-version=) is "
                        "required for all requests.",
                        code="MissingApiVersionParameter",
                    )
                p = request.path_params
                scope = ACCOUNT.format(sub=p["sub"], rg=p["rg"], account=p["account"])
                self.auth.check_arm(request, scope)
                if (p["sub"], p["rg"], p["account"]) != self.store.config.azure_account:
                    raise ApiError(
                        404,
                        "The Resource 'Microsoft.CognitiveServices/accounts/"
                        f"{p['account']}' under resource group '{p['rg']}' was not "
                        "found.",
                        code="ResourceNotFound",
                    )
                result: Response = await handler(request)
                return result
            except ApiError as err:
                return err.response("azure")

        return endpoint

    def _json(self, request: Request, d: Deployment) -> dict[str, Any]:
        p = request.path_params
        state = d.status(self.store.clock.now())
        props: dict[str, Any] = {
            "model": {"format": "OpenAI", "name": d.model, "version": "1"},
            "provisioningState": state,
        }
        if state == "Succeeded":
            props["deploymentState"] = "Running"
        return {
            "id": ACCOUNT.format(sub=p["sub"], rg=p["rg"], account=p["account"])
            + f"/deployments/{d.name}",
            "name": d.name,
            "type": "Microsoft.CognitiveServices/accounts/deployments",
            "sku": d.sku,
            "properties": props,
        }

    def _deployable(self) -> set[str]:
        from ftsdk_emulator import training

        for job in self.store.jobs.values():
            training.advance(self.store, job, self.store.clock.now())
        tuned = {
            m for m, e in self.store.models.items() if self.store.jobs[e["job"]].flavor == "azure"
        }
        return tuned | set(self.store.config.azure_models)

    async def put(self, request: Request) -> Response:
        name = request.path_params["name"]
        if not NAME.match(name):
            raise ApiError(
                400,
                f"The deployment name '{name}' is invalid: use 2-64 letters, "
                "digits, '-', '_' or '.'.",
                code="InvalidResourceName",
            )
        try:
            body = json.loads(await request.body())
            sku_name = str(body["sku"]["name"])
            capacity = int(body["sku"].get("capacity", 1))
            model = str(body["properties"]["model"]["name"])
        except (ValueError, KeyError, TypeError):
            raise ApiError(
                400,
                "The request body must have sku.name and properties.model.name.",
                code="InvalidRequestContent",
            ) from None
        sku = SKUS.get(sku_name.lower())
        if sku is None:
            raise ApiError(
                400,
                f"The specified SKU '{sku_name}' is not supported for this "
                f"model. Supported: {', '.join(sorted(set(SKUS.values())))}.",
                code="InvalidResourceProperties",
            )
        with self.store.lock:
            if model not in self._deployable():
                raise ApiError(
                    400,
                    f"The model '{model}' is not supported for deployment on this resource.",
                    code="DeploymentModelNotSupported",
                )
            used = sum(
                int(d.sku.get("capacity", 1))
                for n, d in self.store.deployments.items()
                if n != name
            )
            if used + capacity > QUOTA:
                raise ApiError(
                    400,
                    f"This operation require {capacity} new capacity in quota "
                    f"Tokens Per Minute (thousands), which is bigger than the "
                    f"current available capacity {QUOTA - used}.",
                    code="InsufficientQuota",
                )
            now = self.store.clock.now()
            existing = self.store.deployments.get(name)
            wanted = {"name": sku, "capacity": capacity}
            if existing is not None and (existing.model, existing.sku) == (model, wanted):
                d = existing  # PUT is idempotent: the same deployment again changes nothing
            else:
                fail, self.store.next_deployment_fails = self.store.next_deployment_fails, False
                d = Deployment(
                    name=name,
                    model=model,
                    sku=wanted,
                    created_at=now,
                    ready_at=now + self.store.config.deploy_seconds,
                    fail=fail,
                )
            self.store.deployments[name] = d
            op = new_id("op-", length=16)
            self.operations[op] = name
            status_url = str(
                request.url.replace(query=f"api-version={request.query_params['api-version']}")
            )
            status_url = status_url.replace(
                f"/deployments/{name}", f"/deployments/{name}/operationStatuses/{op}", 1
            )
            return JSONResponse(
                self._json(request, d),
                status_code=200 if existing is not None else 201,
                headers={"Azure-AsyncOperation": status_url, "Retry-After": "1"},
            )

    async def get(self, request: Request) -> Response:
        with self.store.lock:
            d = self.store.deployments.get(request.path_params["name"])
            if d is None:
                raise ApiError(
                    404,
                    f"Deployment '{request.path_params['name']}' not found.",
                    code="DeploymentNotFound",
                )
            return JSONResponse(self._json(request, d))

    async def list(self, request: Request) -> Response:
        with self.store.lock:
            return JSONResponse(
                {"value": [self._json(request, d) for d in self.store.deployments.values()]}
            )

    async def delete(self, request: Request) -> Response:
        with self.store.lock:
            existed = self.store.deployments.pop(request.path_params["name"], None)
        return Response(status_code=200 if existed else 204)

    async def operation(self, request: Request) -> Response:
        with self.store.lock:
            name = self.operations.get(request.path_params["op"])
            d = self.store.deployments.get(name or "")
            if d is None:
                raise ApiError(404, "Operation not found.", code="NotFound")
            state = d.status(self.store.clock.now())
        status = {"Creating": "InProgress"}.get(state, state)
        headers = {"Retry-After": "1"} if status == "InProgress" else {}
        return JSONResponse({"name": request.path_params["op"], "status": status}, headers=headers)
