"""Failure bookkeeping for a remote inference server: back-off and human-readable errors.

Pure code (no I/O), so the policy is unit-tested with a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx


class RemoteError(Exception):
    """A request to the inference server failed; ``message`` is fit to show to the user."""

    def __init__(self, message: str, *, reachable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        # True when the server answered (HTTP error, bad reply): a health probe that only
        # checks reachability would not prove it recovered, so only a real request does.
        self.reachable = reachable


class MalformedReply(RemoteError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, reachable=True)


@dataclass
class Backoff:
    """Exponential back-off: after the n-th failure in a row wait base * 2**(n-1), capped."""

    base_s: float = 0.5
    cap_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    _retry_at: float = 0.0

    def record_failure(self) -> float:
        """Count a failure; returns the delay until the next attempt."""
        self.failures += 1
        delay = min(self.cap_s, self.base_s * (2 ** (self.failures - 1)))
        self._retry_at = self.clock() + delay
        return delay

    def record_success(self) -> None:
        self.failures = 0
        self._retry_at = 0.0

    @property
    def waiting(self) -> bool:
        """True while requests should not be tried (they return empty at once)."""
        return self.failures > 0 and self.clock() < self._retry_at

    @property
    def seconds_left(self) -> float:
        return max(0.0, self._retry_at - self.clock()) if self.failures else 0.0


def _server_error_text(response: httpx.Response) -> str:
    """The server's own short error text, if its body says one (JSON `error` or `detail`)."""
    try:
        body = response.json()
    except Exception:
        text = response.text.strip()
        return text[:200]
    if isinstance(body, dict):
        error = body.get("error", body.get("detail"))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return str(error)[:200]
    return ""


def describe_http_error(response: httpx.Response, url: str, path: str) -> RemoteError:
    status = response.status_code
    detail = _server_error_text(response)
    suffix = f": {detail}" if detail else ""
    if status in (401, 403):
        message = (
            f"the inference server at {url} refused the request (HTTP {status}): "
            "check the API key in the environment variable named by backend.apiKeyEnv"
        )
    elif status == 404:
        message = (
            f"the inference server at {url} has no {path} (HTTP 404{suffix}): "
            "check backend.kind and backend.url"
        )
    else:
        message = f"the inference server at {url} answered HTTP {status}{suffix}"
    return RemoteError(message, reachable=True)


def describe_failure(exc: BaseException, url: str, timeout_ms: int) -> RemoteError:
    """Map an exception from a request to one clear sentence (never including headers)."""
    if isinstance(exc, RemoteError):
        return exc
    if isinstance(exc, httpx.ConnectTimeout):
        return RemoteError(f"cannot reach the inference server at {url} (connect timed out)")
    if isinstance(exc, httpx.ConnectError):
        return RemoteError(
            f"cannot connect to the inference server at {url} (is it running? {_short(exc)})"
        )
    if isinstance(exc, httpx.TimeoutException):
        return RemoteError(
            f"the inference server at {url} did not answer within {timeout_ms} ms "
            "(backend.timeoutMs)"
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return RemoteError(f"the inference server at {url} closed the connection ({_short(exc)})")
    if isinstance(exc, httpx.HTTPError):
        return RemoteError(f"request to the inference server at {url} failed ({_short(exc)})")
    return RemoteError(f"request to the inference server at {url} failed ({_short(exc)})")


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]
