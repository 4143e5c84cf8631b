"""Word and character TF-IDF with a logistic regression per head: the baseline and the ensemble partner.

Why it lives in ``model/``: it is both the baseline every evaluation compares against and,
averaged with the fine-tuned model's probabilities, part of what can be shipped. One
definition serves both, so the ensemble that is served is the one that was measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.schema import Schema

TFIDF_FILE = "tfidf.joblib"


def logreg():
    """The logistic regression every linear baseline uses (TF-IDF here, frozen embeddings in eval)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, class_weight="balanced", C=2.0)


def _vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ]
    )


class TfidfHeads:
    """``fit`` on sentences and their two labels; ``predict_proba`` gives both heads' rows in schema order."""

    def __init__(self, schema: Schema):
        self.schema = schema
        self.vectorizer: Any = None
        self.heads: dict[str, Any] = {}

    def fit(self, texts: Sequence[str], frames: Sequence[str], attributions: Sequence[str]) -> TfidfHeads:
        self.vectorizer = _vectorizer()
        x = self.vectorizer.fit_transform(list(texts))
        self.heads = {"frame": logreg().fit(x, list(frames)), "attribution": logreg().fit(x, list(attributions))}
        return self

    def predict_proba(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        x = self.vectorizer.transform(list(texts))
        out = []
        for head, names in (("frame", self.schema.frame_names), ("attribution", self.schema.attribution_names)):
            clf = self.heads[head]
            proba = np.zeros((x.shape[0], len(names)))
            proba[:, [list(names).index(c) for c in clf.classes_]] = clf.predict_proba(x)
            out.append(proba)
        return out[0], out[1]

    def save(self, directory: Path) -> Path:
        import joblib

        path = Path(directory) / TFIDF_FILE
        joblib.dump({"vectorizer": self.vectorizer, "heads": self.heads}, path)
        return path

    @classmethod
    def load(cls, directory: Path, schema: Schema) -> TfidfHeads | None:
        """The saved TF-IDF heads of a model folder, or None when the model has none."""
        import joblib

        path = Path(directory) / TFIDF_FILE
        if not path.is_file():
            return None
        saved = joblib.load(path)
        heads = cls(schema)
        heads.vectorizer, heads.heads = saved["vectorizer"], saved["heads"]
        return heads
