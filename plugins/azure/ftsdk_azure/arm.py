"""Deployments through the Azure Resource Manager REST API, with httpx."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from ftsdk import errors
from ftsdk.progress import progress_bar
from ftsdk.retry import parse_retry_after

__all__ = ["ARM_ENDPOINT", "ARM_SCOPE", "NAMES", "SKUS", "Deployments", "check_name"]

ARM_ENDPOINT = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"
SKUS = {"standard": "Standard", "globalstandard": "GlobalStandard", "developer": "DeveloperTier"}
"""ftsdk's SKU names → ARM's."""
CONTRIBUTOR = "Cognitive Services OpenAI Contributor"
FINAL_STATES = frozenset({"Succeeded", "Failed", "Canceled", "Deleting", "Disabled"})
"""Provisioning states a deployment does not leave by itself (ARM's
``DeploymentProvisioningState``: Accepted, Creating, Moving wait; these end the wait).
``Deleting`` or ``Disabled`` while waiting for a new deployment means it will not serve."""

NAMES: dict[str, tuple[re.Pattern[str], str]] = {
    "subscription_id": (
        re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"),
        "a GUID (8-4-4-4-12 hexadecimal digits)",
    ),
    "resource_group": (
        re.compile(r"[-\w._()]{0,89}[-\w_()]", re.ASCII),
        "1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'",
    ),
    "account": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,62}[A-Za-z0-9]"),
        "2-64 letters, digits or '-', starting and ending with a letter or digit",
    ),
    "deployment": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}"),
        "2-64 letters, digits, '_', '-' or '.', starting with a letter or digit",
    ),
}
"""ARM's naming rules for each identifier that goes into a deployment's URL (Azure
Resource Manager "Naming rules and restrictions for Azure resources"; the account rule from
the Microsoft.CognitiveServices/accounts template reference). Checked before any request:
a name that breaks them (``..``, ``/``, ``#``, ``?``) could otherwise address another
resource."""


def check_name(kind: str, value: str) -> str:
    """``value`` if it is a valid ARM ``kind`` name, else :class:`~ftsdk.errors.InvalidRequest`.

    >>> check_name("deployment", "dates-1")
    'dates-1'
    """
    pattern, rule = NAMES[kind]
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise errors.InvalidRequest(
            f"{kind} {value!r} is not a valid Azure name: use {rule}",
            field=kind,
            provider="azure",
        )
    return value


def _segment(value: str) -> str:
    """One URL path segment, every reserved character escaped (a second guard behind
    :func:`check_name`: even a valid name is never spliced in raw)."""
    return quote(value, safe="")


class Deployments:
    """PUT / GET / DELETE of one Azure OpenAI resource's deployments.

    :param token: returns a bearer token for the management scope.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        subscription_id: str,
        resource_group: str,
        account: str,
        api_version: str,
        token: Callable[[], str],
        timeout: float = 60.0,
    ) -> None:
        check_name("subscription_id", subscription_id)
        check_name("resource_group", resource_group)
        check_name("account", account)
        self.scope = (
            f"/subscriptions/{_segment(subscription_id)}"
            f"/resourceGroups/{_segment(resource_group)}"
            f"/providers/Microsoft.CognitiveServices/accounts/{_segment(account)}"
        )
        root = httpx.URL(endpoint)
        if root.scheme not in ("https", "http") or not root.host:
            raise errors.ConfigurationError(
                f"arm_endpoint must be an http(s) URL, not {endpoint!r}"
            )
        self.root = root
        self.api_version, self._token, self.timeout = api_version, token, timeout

    def _request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token()}"}
        try:
            response = httpx.request(
                method, url, json=json, headers=headers, params=params, timeout=self.timeout
            )
        except httpx.TimeoutException as err:
            raise errors.Timeout(
                f"Azure Resource Manager did not answer: {err}", provider="azure"
            ) from err
        except httpx.TransportError as err:
            raise errors.ProviderUnavailable(
                f"connection to Azure Resource Manager failed: {err}", provider="azure"
            ) from err
        if response.status_code >= 400:
            raise self._error(response)
        return response

    def _error(self, response: httpx.Response) -> errors.FtsdkError:
        try:
            body = response.json().get("error", {})
        except ValueError:
            body = {}
        code = body.get("code") if isinstance(body.get("code"), str) else None
        message = str(body.get("message") or response.text or response.reason_phrase)
        if response.status_code == 403:
            message = (
                f"{message} — deploying needs the {CONTRIBUTOR} role (or Cognitive "
                f"Services Contributor) on {self.scope}"
            )
        elif code == "InsufficientQuota":
            message = f"{message} — lower capacity=, or free quota by deleting deployments"
        return errors.error_for_status(
            response.status_code,
            message,
            provider="azure",
            code=code,
            request_id=response.headers.get("x-ms-request-id"),
            retry_after=parse_retry_after(dict(response.headers)),
        )

    def _url(self, name: str) -> httpx.URL:
        """The deployment's URL: the name checked, then escaped as one path segment."""
        check_name("deployment", name)
        path = self.root.path.rstrip("/") + self.scope + "/deployments/" + _segment(name)
        return self.root.copy_with(raw_path=path.encode("ascii"), query=None)

    def put(self, name: str, *, model: str, sku: str, capacity: int) -> httpx.Response:
        """Create or update deployment ``name`` of ``model``."""
        sku_name = SKUS.get(sku.lower().replace("_", "").replace("-", ""))
        if sku_name is None:
            raise errors.InvalidRequest(
                f"sku must be one of {', '.join(SKUS)}, not {sku!r}", field="sku", provider="azure"
            )
        body = {
            "sku": {"name": sku_name, "capacity": capacity},
            "properties": {"model": {"format": "OpenAI", "name": model, "version": "1"}},
        }
        return self._request(
            "PUT", self._url(name), json=body, params={"api-version": self.api_version}
        )

    def get(self, name: str) -> dict[str, Any]:
        """The deployment as ARM describes it."""
        result: dict[str, Any] = self._request(
            "GET", self._url(name), params={"api-version": self.api_version}
        ).json()
        return result

    def delete(self, name: str) -> None:
        """Delete the deployment (a no-op if it is gone)."""
        self._request("DELETE", self._url(name), params={"api-version": self.api_version})

    def wait(
        self,
        name: str,
        created: httpx.Response,
        *,
        poll_interval: float,
        timeout: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> dict[str, Any]:
        """Poll until ``provisioningState`` is final; follow ``Azure-AsyncOperation`` and
        ``Retry-After`` when ARM gives them."""
        operation = self._same_origin(created.headers.get("azure-asyncoperation"))
        deadline = time.monotonic() + timeout
        with progress_bar(desc=f"azure deploy {name}", total=None, unit="poll") as bar:
            response = created
            while True:
                state = self._state(name, operation, response)
                bar.set_postfix(state=state)
                if state in FINAL_STATES:
                    break
                if time.monotonic() > deadline:
                    raise errors.Timeout(
                        f"deployment {name} still {state} after {timeout:.0f}s", provider="azure"
                    )
                asked = parse_retry_after(dict(response.headers))
                sleep(asked if asked is not None else poll_interval)
                response = (
                    self._request("GET", operation)
                    if operation
                    else self._request(
                        "GET", self._url(name), params={"api-version": self.api_version}
                    )
                )
                bar.update(1)
        if state != "Succeeded":
            raise errors.FtsdkError(
                f"deployment {name} ended {state}; see the resource's activity log",
                provider="azure",
                code=f"provisioning{state}",
            )
        return self.get(name)

    def _same_origin(self, url: str | None) -> str | None:
        """ARM's status URL, used only on ARM's own scheme and host: our bearer token is never
        sent to a host an answer names (the deployment itself is polled instead)."""
        if not url:
            return None
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            return None
        if (parsed.scheme, parsed.host, parsed.port) != (
            self.root.scheme,
            self.root.host,
            self.root.port,
        ):
            return None
        return url

    @staticmethod
    def _state(name: str, operation: str | None, response: httpx.Response) -> str:
        body = response.json()
        if operation and "status" in body:
            status = str(body["status"])
            return {"InProgress": "Creating"}.get(status, status)
        return str(body.get("properties", {}).get("provisioningState", "Creating"))
