"""What every request meets before the service code: who may call, what it may send, how much at once.

Why one ASGI middleware in front of BentoML: BentoML answers a body it cannot parse
(``multipart/form-data`` without a boundary) with a 500, sheds load with a generic 503, has
no body-size or authentication setting, and publishes an OpenAPI document that does not
describe those answers. Each check here turns one of those into a documented JSON error
(``{"error": ..., "fix": ...}``) before any model work starts. In order:

1. **Who** (``FRAMING_API_KEY`` or ``FRAMING_API_KEY_FILE``, optional): every route but the
   probes, the web page and the API description needs ``Authorization: Bearer <key>``
   (compared in constant time), else 401. The key is never logged or echoed.
2. **What**: a POST to ``/classify`` or ``/score`` must be ``application/json`` (else 415,
   naming what is accepted) and carry a body (else 400); bodies over ``MAX_BODY_BYTES`` get
   413, also for chunked uploads that declare no length.
3. **How much**: at most ``FRAMING_MAX_CONCURRENCY`` API requests in flight; the next gets
   503 with ``Retry-After``. A 503 from BentoML itself (batching queue full) gets the same
   body and header, so a client sees one shape whoever sheds the load.
4. **The contract**: ``GET /docs.json`` is rewritten by ``serving.contract`` so the document
   says exactly what this gateway and the request models enforce.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from serving.contract import API_ROUTES, DOCS_JSON, PUBLIC_PATHS, PUBLIC_PREFIXES, patch_openapi
from serving.schemas import MAX_BODY_BYTES, env_int

MAX_CONCURRENCY = env_int("FRAMING_MAX_CONCURRENCY", 32)
RETRY_AFTER_S = env_int("FRAMING_RETRY_AFTER_S", 1)
JSON_TYPES = ("application/json",)
EXAMPLE_BODIES = {"/classify": '{"sentences": ["..."]}', "/score": '{"articles": [{"source": "...", "text": "..."}]}'}

Send = Callable[[dict[str, Any]], Awaitable[None]]


class ConfigError(RuntimeError):
    """The operator's settings are unusable (e.g. an empty key file); the server must not start open."""


def load_api_key(environ: dict[str, str] | None = None) -> str | None:
    """The configured key, or None when the service is open. ``FRAMING_API_KEY`` wins over the file."""
    env = os.environ if environ is None else environ
    key = env.get("FRAMING_API_KEY")
    if key is None and env.get("FRAMING_API_KEY_FILE"):
        path = Path(env["FRAMING_API_KEY_FILE"])
        try:
            key = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"FRAMING_API_KEY_FILE={path} cannot be read ({exc.strerror}); point it to a file holding the key"
            ) from None
        if not key:
            raise ConfigError(f"FRAMING_API_KEY_FILE={path} is empty; write the key into it")
    if key is not None and not key.strip():
        raise ConfigError("FRAMING_API_KEY is set but empty; unset it to serve without a key, or give a key")
    return key.strip() if key is not None else None


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def error_body(error: str, fix: str, **extra: Any) -> bytes:
    return json.dumps({"error": error, "fix": fix, **extra}).encode()


async def respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def overload_body() -> bytes:
    return error_body(
        "the service is at capacity",
        f"retry after {RETRY_AFTER_S} s (the Retry-After header); 'framing score --url' does so itself",
        retry_after_s=RETRY_AFTER_S,
    )


class Gateway:
    """The ASGI middleware (see the module docstring); one instance per worker."""

    def __init__(
        self,
        app: Any,
        max_bytes: int = MAX_BODY_BYTES,
        max_concurrency: int = MAX_CONCURRENCY,
        api_key: str | None = None,
    ):
        self.app = app
        self.max_bytes = max_bytes
        self.max_concurrency = max_concurrency
        self.api_key = api_key if api_key is not None else load_api_key()
        self.in_flight = 0

    # ------------------------------------------------------------------ checks
    def _authorised(self, headers: dict[bytes, bytes]) -> bool:
        if self.api_key is None:
            return True
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.api_key.encode())

    @staticmethod
    def _media_type(headers: dict[bytes, bytes]) -> str:
        return headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()

    async def _read_body(self, receive: Any, send: Send) -> list[dict[str, Any]] | None:
        """The request's messages, or None after answering 413 (the body went over the limit)."""
        messages, seen = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await self._too_large(send)
                return None
            if not message.get("more_body", False):
                return messages

    async def _too_large(self, send: Send) -> None:
        await respond(
            send,
            413,
            error_body(
                f"request body exceeds the limit of {self.max_bytes} bytes",
                "split the request into smaller calls or use 'framing score' for batches",
                limit_bytes=self.max_bytes,
            ),
        )

    # ------------------------------------------------------------------ the middleware
    async def __call__(self, scope: Any, receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        headers = dict(scope.get("headers") or [])
        if not is_public(path) and not self._authorised(headers):
            await respond(
                send,
                401,
                error_body(
                    "missing or wrong API key",
                    "send the header 'Authorization: Bearer <key>' with the key the operator set in FRAMING_API_KEY",
                ),
                [(b"www-authenticate", b'Bearer realm="framing"')],
            )
            return
        if path == DOCS_JSON and method == "GET":
            await self.app(scope, receive, self._rewrite_docs(send))
            return
        if not (method == "POST" and path in API_ROUTES):
            await self.app(scope, receive, send)
            return

        media = self._media_type(headers)
        if media not in JSON_TYPES:
            found = f"'{media}'" if media else "no Content-Type header"
            await respond(
                send,
                415,
                error_body(
                    f"unsupported content type: expected application/json, found {found}",
                    "send the request as JSON with the header 'Content-Type: application/json'",
                    accepted=list(JSON_TYPES),
                ),
            )
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        messages = await self._read_body(receive, send)
        if messages is None:
            return
        if not b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request").strip():
            example = (
                '{"sentences": ["..."]}' if path == "/classify" else '{"articles": [{"source": "...", "text": "..."}]}'
            )
            await respond(send, 400, error_body("the request has no body", f"send a JSON object such as {example}"))
            return
        if self.in_flight >= self.max_concurrency:
            await respond(send, 503, overload_body(), [(b"retry-after", str(RETRY_AFTER_S).encode())])
            return
        replay = iter(messages)

        async def replay_receive() -> Any:
            return next(replay, None) or await receive()

        self.in_flight += 1
        try:
            await self.app(scope, replay_receive, self._shed_shape(send))
        finally:
            self.in_flight -= 1

    # ------------------------------------------------------------------ response rewriting
    def _shed_shape(self, send: Send) -> Send:
        """A 503 from BentoML (its queue is full) gets this gateway's body and Retry-After."""
        state = {"shed": False}

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                state["shed"] = True
                body = overload_body()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"retry-after", str(RETRY_AFTER_S).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
            if state["shed"]:
                return  # BentoML's own body for the 503: already replaced
            await send(message)

        return wrapped

    def _rewrite_docs(self, send: Send) -> Send:
        """Buffer BentoML's OpenAPI document and send the contract instead (``serving.contract``)."""
        state: dict[str, Any] = {"start": None, "chunks": []}

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state["start"] = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            state["chunks"].append(message.get("body", b""))
            if message.get("more_body", False):
                return
            start = state["start"]
            body = b"".join(state["chunks"])
            if start["status"] == 200:
                body = json.dumps(patch_openapi(json.loads(body), auth=self.api_key is not None)).encode()
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        return wrapped
