"""Shared fixtures: the real label schema and the real seed articles."""

from __future__ import annotations

import pytest

from model.schema import Schema, load_schema
from training.dataset import SeedPaths


@pytest.fixture(scope="session")
def schema() -> Schema:
    """The real ``seeds/schema.yaml``."""
    return load_schema(SeedPaths().schema)


@pytest.fixture(scope="session")
def seed_articles() -> dict[str, str]:
    """doc_id -> full text of every article in ``seeds/articles``."""
    articles = {p.stem: p.read_text(encoding="utf-8") for p in sorted(SeedPaths().articles.glob("*.txt"))}
    assert articles, "no seed articles found in seeds/articles"
    return articles
