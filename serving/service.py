"""The BentoML service: sentence labels and per-source framing scores over HTTP.

Why this shape: the model reference sits on the class so ``bentoml build`` packs the
model; the model is loaded in ``__init__`` (once per worker, not per request); ``/classify``
is batchable so concurrent small requests share one forward pass; every input is typed,
so bad requests get a 400 naming the field before any model work, and ``/docs`` shows a
ready-to-try example.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import bentoml
from pydantic import Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from serving.schemas import (
    MAX_ARTICLES,
    MAX_BODY_BYTES,
    MAX_SENTENCES,
    SAMPLE_ARTICLE,
    SAMPLE_CONTEXT_ITEM,
    SAMPLE_SENTENCES,
    Article,
    ScoreResponse,
    Sentence,
    SentenceLabels,
    SentenceWithContext,
)
from serving.ui import ui_routes

MODEL_TAG = "framing-classifier:latest"
_STATE: dict[str, Any] = {}  # filled by the worker's FramingService.__init__, read by GET /info


async def _info(request: Request) -> JSONResponse:
    """Schema, model tag, training-data fingerprint and cross-validation metrics."""
    if "info" not in _STATE:
        return JSONResponse({"error": "the model is still loading; retry shortly"}, status_code=503)
    return JSONResponse(_STATE["info"])


# GET /info plus the web page (serving/ui.py: / -> /ui, /ui, /ui/static/*, /docs = BentoML's API page)
info_app = Starlette(routes=[Route("/info", _info, methods=["GET"]), *ui_routes()])


class BodySizeLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with a 413 JSON error.

    BentoML 1.4 has no body-size setting; without this a client could make a worker
    buffer an arbitrarily large upload before validation even starts.
    """

    def __init__(self, app: Any, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send: Any) -> None:
        body = json.dumps(
            {
                "error": f"request body exceeds the limit of {self.max_bytes} bytes",
                "limit_bytes": self.max_bytes,
                "fix": "split the request into smaller calls or use 'framing score' for batches",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        # No (or a small) declared length: read the body ourselves, up to the limit, so a
        # chunked upload cannot exceed it either, then replay it to the application.
        messages, seen = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await self._reject(send)
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replay_receive() -> Any:
            return next(replay, None) or await receive()

        await self.app(scope, replay_receive, send)


@bentoml.asgi_app(info_app, path="/")
@bentoml.service(
    name="framing",
    traffic={"timeout": 120, "max_concurrency": 64},
    workers=1,
)
class FramingService:
    model_ref = bentoml.models.BentoModel(MODEL_TAG)

    def __init__(self) -> None:
        from model.classifier import FramingClassifier

        self.clf = FramingClassifier.load(self.model_ref.path)
        self.tag = str(self.model_ref.tag)
        _STATE["info"] = {
            "model": self.tag,
            "backend": self.clf.backend,  # onnx (fast, default) or torch: FRAMING_BACKEND
            "schema": self.clf.schema.to_dict(),
            "training": self.clf.info,
            "training_config": self.clf.config,
            "data_fingerprint": self.clf.info.get("data_fingerprint"),
            "cv_metrics": self.clf.metrics,
            "limits": {"max_sentences": MAX_SENTENCES, "max_articles": MAX_ARTICLES, "max_body_bytes": MAX_BODY_BYTES},
        }

    # Adaptive batching merges concurrent requests into one forward pass. The latency bound
    # is generous because a merged CPU batch of several hundred sentences takes seconds;
    # a tight bound makes BentoML shed load with 503s long before the CPU is saturated.
    @bentoml.api(batchable=True, max_batch_size=MAX_SENTENCES, max_latency_ms=30_000)
    def classify(
        self,
        sentences: Annotated[
            list[Sentence | SentenceWithContext],
            Field(
                min_length=1,
                max_length=MAX_SENTENCES,
                examples=[SAMPLE_SENTENCES, [SAMPLE_SENTENCES[0], SAMPLE_CONTEXT_ITEM]],
                description="Sentences as strings, or as {text, context} objects to give the model the "
                "sentence's surroundings (what /score builds from the article).",
            ),
        ],
    ) -> list[SentenceLabels]:
        """Label each sentence with its frame and attribution, with every label's probability.

        A string is read alone; a ``{text, context}`` item is read with its context.
        """
        texts = [s if isinstance(s, str) else s.text for s in sentences]
        contexts = [s.context if isinstance(s, SentenceWithContext) else "" for s in sentences]
        predictions = self.clf.predict(texts, contexts=contexts if any(contexts) else None)  # predict normalises
        return [SentenceLabels(**p.to_dict()) for p in predictions]

    @bentoml.api
    def score(
        self,
        articles: Annotated[list[Article], Field(min_length=1, max_length=MAX_ARTICLES, examples=[[SAMPLE_ARTICLE]])],
    ) -> ScoreResponse:
        """Segment articles into sentences, label them, and profile each source."""
        from serving.scoring import score_articles

        result = score_articles(self.clf, [a.model_dump() for a in articles])
        return ScoreResponse(
            model=self.tag,
            sentences=result["sentences"],
            articles=result["articles"],
            sources=result["sources"],
            warnings=result["warnings"],
        )


FramingService.add_asgi_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
