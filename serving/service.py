"""The BentoML service: sentence labels and per-source framing scores over HTTP.

Why this shape: the model reference sits on the class so ``bentoml build`` packs the
model; the model is loaded in ``__init__`` (once per worker, not per request); ``/classify``
is batchable so concurrent small requests share one forward pass; every input is typed,
so bad requests get a 400 naming the field before any model work, and ``/docs`` shows a
ready-to-try example. ``serving.gateway`` stands in front: API key, content type, body
size, load shedding and the OpenAPI document as a contract.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import bentoml
from pydantic import Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from serving.gateway import Gateway
from serving.schemas import (
    MAX_ARTICLES,
    MAX_BODY_BYTES,
    MAX_HTML_CHARS,
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
        return JSONResponse(
            {"error": "the model is still loading", "fix": "retry in a few seconds"},
            status_code=503,
            headers={"Retry-After": "2"},
        )
    return JSONResponse(_STATE["info"])


# GET /info plus the web page (serving/ui.py: / -> /ui, /ui, /ui/static/*, /docs = BentoML's API page)
info_app = Starlette(routes=[Route("/info", _info, methods=["GET"]), *ui_routes()])


@bentoml.asgi_app(info_app, path="/")
@bentoml.service(
    name="framing",
    # BentoML's own limit sits above the gateway's (FRAMING_MAX_CONCURRENCY, 32): the gateway sheds
    # first, with Retry-After and a JSON body.
    traffic={"timeout": 120, "max_concurrency": 1024},
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
            "backend": self.clf.backend,  # onnx-int8 (default), onnx, onnx-int8-guarded or torch: FRAMING_BACKEND
            "schema": self.clf.schema.to_dict(),
            "training": self.clf.info,
            "training_config": self.clf.config,
            "data_fingerprint": self.clf.info.get("data_fingerprint"),
            "cv_metrics": self.clf.metrics,
            "limits": {
                "max_sentences": MAX_SENTENCES,
                "max_articles": MAX_ARTICLES,
                "max_body_bytes": MAX_BODY_BYTES,
                "max_html_chars": MAX_HTML_CHARS,
            },
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
        period: Annotated[
            Literal["day", "week", "month"],
            Field(description="Timeline periods: per source and day, ISO week (Monday first) or month."),
        ] = "week",
    ) -> ScoreResponse:
        """Segment articles (text, or web pages as 'html') into sentences, label them, and profile each source.

        Articles with dates also get a timeline: per source and period, slant with its 95% CI.
        A page with no article text is listed in 'rejects'; the other articles are scored.
        """
        from serving.scoring import prepare_articles, score_articles

        ready, rejects = prepare_articles([a.model_dump() for a in articles])
        result = score_articles(self.clf, ready, period=period)
        return ScoreResponse(
            model=self.tag,
            sentences=result["sentences"],
            articles=result["articles"],
            sources=result["sources"],
            timeline=result.get("timeline", []),
            timeline_note=result.get("timeline_note") or "",
            rejects=rejects,
            warnings=result["warnings"],
        )


# API key, content type, body size, load shedding and the OpenAPI contract (serving/gateway.py).
FramingService.add_asgi_middleware(Gateway)
