"""The BentoML model store: where a trained classifier is registered and found again.

Why ``bentoml.models.create`` as a context manager: the model is written inside it and
only committed to the store when the block exits cleanly, so a crash mid-save never
leaves a half-written ``framing-classifier:latest`` for the service to pick up.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from model.classifier import FramingClassifier, ModelLoadError

MODEL_NAME = "framing-classifier"


def _metadata_safe(value: Any) -> Any:
    """BentoML metadata takes basic types only: drop None from mappings, stringify the rest."""
    if isinstance(value, dict):
        return {str(k): _metadata_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_metadata_safe(v) for v in value if v is not None]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def save_to_store(clf: FramingClassifier, *, card: str, metadata: dict[str, Any], name: str = MODEL_NAME) -> str:
    """Register ``clf`` in the store; returns the new tag (``name:version``)."""
    import bentoml

    labels = {"task": "sentence-framing", "schema": clf.schema.name, "encoder": str(clf.config.get("encoder", ""))}
    with bentoml.models.create(name, labels=labels, metadata=_metadata_safe(metadata)) as ref:
        clf.save(ref.path, card=card)
    return str(ref.tag)


def model_in_store(tag: str = f"{MODEL_NAME}:latest") -> bool:
    import bentoml

    try:
        bentoml.models.get(tag)
    except bentoml.exceptions.NotFound:
        return False
    return True


def store_model(tag: str = f"{MODEL_NAME}:latest") -> tuple[Path, str]:
    """(folder, resolved tag) of a model in the BentoML store, not loaded.

    Raises ModelLoadError naming the store when the model is not there; each caller adds the
    fix that fits its command (train one, pass --model, ...).
    """
    import bentoml

    try:
        ref = bentoml.models.get(tag)
    except bentoml.exceptions.NotFound:
        raise ModelLoadError(
            f"no model {tag!r} in the BentoML store (BENTOML_HOME={os.environ.get('BENTOML_HOME', '~/bentoml')})"
        ) from None
    return Path(ref.path), str(ref.tag)


def load_from_store(tag: str = f"{MODEL_NAME}:latest") -> tuple[FramingClassifier, str]:
    """(classifier, resolved tag). Raises ModelLoadError with the fix when none exists."""
    try:
        path, resolved = store_model(tag)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{exc}; train one with 'framing train' (or 'make train')") from None
    return FramingClassifier.load(path), resolved
