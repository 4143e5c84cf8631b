"""HTTP client for ``framing score --url``: label sentences with a running service.

Why a client of ``POST /classify`` and not of ``/score``: batch scoring segments articles
and profiles sources itself (the same code as the service), so only the model call goes
over the network. Sentences are sent in requests that respect the service's limits
(sentence count from ``GET /info``, body size), a few at a time so the server's adaptive
batching can merge them, and every call is retried with exponential backoff on the
answers that mean "try again later" (503, 429, 502, 504) and on connection errors. The
number of attempts is bounded, and the final error says what failed and what to do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

RETRY_STATUSES = frozenset({429, 502, 503, 504})
DEFAULT_RETRIES = 6
DEFAULT_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
BODY_FRACTION = 0.5  # of the server's body limit per request: JSON escaping can double a sentence's size


class RemoteError(RuntimeError):
    """The service could not be reached or refused a request; the message says what to do."""


def backoff_delays(retries: int, base_s: float, cap_s: float = MAX_BACKOFF_S) -> list[float]:
    """Seconds to wait before each retry: base, 2*base, 4*base, ... capped (deterministic, no jitter)."""
    return [min(cap_s, base_s * 2**i) for i in range(retries)]


def is_retryable_status(status: int) -> bool:
    """True for answers that mean the service is busy or restarting, not that the request is wrong."""
    return status in RETRY_STATUSES


class RemoteClassifier:
    """``predict_proba`` over HTTP with the shape batch scoring needs (numpy rows in schema order)."""

    def __init__(
        self,
        url: str,
        *,
        retries: int = DEFAULT_RETRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
        timeout_s: float = 300.0,
        concurrency: int = 4,
        log: Callable[[str], None] | None = None,
        api_key: str | None = None,
    ):
        import httpx

        if not url.startswith(("http://", "https://")):
            raise ValueError(f"--url must start with http:// or https://, got {url!r} (e.g. http://localhost:3000)")
        self.url = url.rstrip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self.concurrency = max(1, concurrency)
        self.log = log or (lambda _msg: None)
        self.client = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {api_key}"} if api_key else None,
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
        )
        self._info: dict[str, Any] | None = None

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RemoteClassifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One logical call: retried on RETRY_STATUSES and transport errors, bounded."""
        import httpx

        delays = backoff_delays(self.retries, self.backoff_s)
        t0 = time.monotonic()
        last = ""
        for attempt in range(len(delays) + 1):
            try:
                response = self.client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError:
                        raise RemoteError(
                            f"{method} {self.url}{path} answered 200 with a body that is not JSON: "
                            f"{response.text[:200]!r}; is {self.url} a framing service?"
                        ) from None
                if response.status_code == 401:
                    given = "the one given was refused" if "authorization" in self.client.headers else "none was given"
                    raise RemoteError(
                        f"{self.url} needs an API key ({given}): pass --api-key or set FRAMING_API_KEY "
                        "to the key the service's operator set"
                    )
                if not is_retryable_status(response.status_code):
                    raise RemoteError(
                        f"{method} {self.url}{path} answered {response.status_code}: {response.text[:500]}"
                        + ("; is this a framing service ('framing serve')?" if response.status_code == 404 else "")
                    )
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                retry_after = response.headers.get("retry-after", "")
                if attempt < len(delays) and retry_after.isdigit():
                    delays[attempt] = min(MAX_BACKOFF_S, max(delays[attempt], float(retry_after)))
            if attempt < len(delays):
                self.log(f"{method} {path}: {last}; retry {attempt + 1}/{len(delays)} in {delays[attempt]:.1f} s")
                time.sleep(delays[attempt])
        raise RemoteError(
            f"{method} {self.url}{path} failed after {len(delays) + 1} attempts over "
            f"{time.monotonic() - t0:.1f} s; last error: {last}. Check that the service is running and reachable "
            f"(start it with 'framing serve'), or allow more time with --retries."
        )

    # ------------------------------------------------------------------ API
    def info(self) -> dict[str, Any]:
        """``GET /info`` (schema, model tag, limits), fetched once."""
        if self._info is None:
            info = self._call("GET", "/info")
            if not isinstance(info, dict) or "schema" not in info or "model" not in info:
                raise RemoteError(f"GET {self.url}/info did not return a framing service's info: {str(info)[:200]}")
            self._info = info
        return self._info

    @property
    def context_settings(self) -> tuple[int, int] | None:
        """The served model's (context window, max characters) when it reads context (from ``/info``)."""
        from model.context import context_settings

        return context_settings(self.info().get("training_config") or {})

    def _requests(self, sentences: Sequence[Any], per_request: int) -> list[tuple[int, int]]:
        """(start, end) slices of ``sentences``: at most ``per_request`` each, and within the body limit."""
        limits = self.info().get("limits", {})
        max_n = max(1, min(per_request, int(limits.get("max_sentences", per_request))))
        max_bytes = int(limits.get("max_body_bytes", 2_000_000) * BODY_FRACTION)
        spans, start, size = [], 0, 0
        for i, s in enumerate(sentences):
            n = len(json.dumps(s)) + 2
            if i > start and (i - start >= max_n or size + n > max_bytes):
                spans.append((start, i))
                start, size = i, 0
            size += n
        if start < len(sentences):
            spans.append((start, len(sentences)))
        return spans

    def predict_proba(
        self, sentences: Sequence[str], per_request: int = 64, contexts: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(frame probabilities, attribution probabilities) as float32 rows in the service schema's order.

        ``contexts`` (one per sentence, ``model.context``) are sent as ``{"text", "context"}`` items.
        """
        from serving.schemas import MAX_SENTENCE_CHARS

        schema = self.info()["schema"]
        frames = [f["name"] for f in schema["frames"]]
        attrs = [a["name"] for a in schema["attributions"]]
        frame_p = np.zeros((len(sentences), len(frames)), dtype=np.float32)
        attr_p = np.zeros((len(sentences), len(attrs)), dtype=np.float32)
        if not sentences:
            return frame_p, attr_p
        # The model reads at most max_length tokens (well under MAX_SENTENCE_CHARS characters),
        # so clipping a pathological run-on sentence to the service limit changes nothing it sees.
        clipped: list[Any] = [s[:MAX_SENTENCE_CHARS] for s in sentences]
        if contexts is not None:
            clipped = [{"text": s, "context": c} if c else s for s, c in zip(clipped, contexts, strict=True)]

        def send(span: tuple[int, int]) -> tuple[tuple[int, int], Any]:
            return span, self._call("POST", "/classify", json={"sentences": clipped[span[0] : span[1]]})

        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="classify") as pool:
            for (start, end), body in pool.map(send, self._requests(clipped, per_request)):
                if not isinstance(body, list) or len(body) != end - start:
                    raise RemoteError(
                        f"POST {self.url}/classify returned {len(body) if isinstance(body, list) else type(body)} "
                        f"results for {end - start} sentences"
                    )
                for row, item in enumerate(body, start):
                    frame_p[row] = [item["frame_scores"][f] for f in frames]
                    attr_p[row] = [item["attribution_scores"][a] for a in attrs]
        return frame_p, attr_p
