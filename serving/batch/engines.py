"""The engines that turn chunks of articles into chunk results: local (the model in this process),
remote (``--url``); the ray engine is ``ray_engine``, and ``runner.chunk_results`` picks one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.schema import Schema
from serving.batch.chunk import Predict
from serving.batch.inputs import file_checksum
from serving.batch.records import RunError, ScoreOptions, UsageError


# ------------------------------------------------------------------------ the model
@dataclass
class Scorer:
    """What the engines need to know about the model: schema, identity, and where it lives."""

    schema: Schema
    tag: str | None
    checksum: str | None
    model_dir: Path | None = None
    remote: Any = None  # serving.remote.RemoteClassifier in --url mode
    backend: str | None = None  # int8 and fp32 answers differ slightly: a run is resumed on the backend it began on

    def identity(self) -> dict[str, Any]:
        if self.remote is not None:
            return {
                "url": self.remote.url,
                "tag": self.tag,
                "data_fingerprint": self.remote.info().get("data_fingerprint"),
                "backend": self.backend,
            }
        return {"tag": self.tag, "checksum": self.checksum, "backend": self.backend}


def model_checksum(model_dir: Path) -> str:
    """sha256 over the files that define the model's predictions (weights, schema, config, encoder)."""
    from model.classifier import CONFIG_FILE, ENCODER_DIR, SCHEMA_FILE, WEIGHTS_FILE

    digest = hashlib.sha256()
    files = [model_dir / WEIGHTS_FILE, model_dir / SCHEMA_FILE, model_dir / CONFIG_FILE]
    files += sorted(p for p in (model_dir / ENCODER_DIR).rglob("*") if p.is_file())
    for p in files:
        digest.update(p.relative_to(model_dir).as_posix().encode() + b"\0" + file_checksum(p).encode())
    return digest.hexdigest()


def resolve_model(model: Path | None) -> Scorer:
    """``--model DIR`` or ``framing-classifier:latest`` from the BentoML store (not loaded yet)."""
    from model.classifier import SCHEMA_FILE, ModelLoadError, resolve_backend

    if model is None:
        from model.store import store_model

        try:
            model_dir, tag = store_model()
        except ModelLoadError as exc:
            raise RunError(
                f"{exc}; train one with 'framing train', pass --model DIR (a folder from 'framing train --export'), "
                "or --url a running service"
            ) from None
    else:
        if not model.is_dir():
            raise UsageError(f"--model {model} is not a folder; pass a folder written by 'framing train --export'")
        model_dir, tag = model, None
    try:
        schema = Schema.from_dict(json.loads((model_dir / SCHEMA_FILE).read_text()), origin=str(model_dir))
        checksum = model_checksum(model_dir)
        backend = resolve_backend(None, model_dir)
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{model_dir} is not a saved framing model ({exc}); point --model to a folder written by "
            "'framing train --export'"
        ) from None
    except ModelLoadError as exc:
        raise UsageError(str(exc)) from None
    if tag is None:
        tag = f"folder:{model_dir.resolve()}"
    return Scorer(schema, tag, checksum, model_dir=model_dir, backend=backend)


def load_classifier(model_dir: Path, backend: str | None, threads: int | None = None) -> Any:
    from model.classifier import FramingClassifier, ModelLoadError

    try:
        return FramingClassifier.load(model_dir, backend=backend, threads=threads)
    except ModelLoadError as exc:
        raise RunError(str(exc)) from None


def local_predict(clf: Any, batch_size: int | None) -> Predict:
    def predict(texts: list[str], contexts: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        frame_p, attr_p = clf.predict_proba(texts, batch_size=batch_size, contexts=contexts)
        return frame_p.numpy(), attr_p.numpy()

    return predict


def remote_scorer(options: ScoreOptions, log: Callable[[str], None]) -> Scorer:
    """``--url``: the running service's schema and model identity, from its ``/info``."""
    from serving.remote import RemoteClassifier, RemoteError

    try:
        remote = RemoteClassifier(
            options.url, retries=options.retries, backoff_s=options.backoff_s, log=log, api_key=options.api_key
        )
        info = remote.info()
        schema = Schema.from_dict(info["schema"], origin=f"{options.url}/info")
        return Scorer(schema, info["model"], None, remote=remote, backend=info.get("backend"))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except RemoteError as exc:
        raise RunError(str(exc)) from None


def remote_predict(remote: Any, batch_size: int | None) -> Predict:
    """The remote engine: each call is one or more ``POST /classify`` requests (retried on 429/5xx)."""
    from serving.remote import RemoteError

    def predict(texts: list[str], contexts: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
        try:
            return remote.predict_proba(texts, per_request=max(batch_size or 0, 64), contexts=contexts)
        except RemoteError as exc:
            raise RunError(str(exc)) from None

    return predict
