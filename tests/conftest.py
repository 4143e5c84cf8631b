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


# --------------------------------------------------------------------------- trained model
# One real (tiny, fast) model per test session: 1 epoch on the seeds plus 8% of the
# team-written articles, read with context as the default model reads them, registered in a
# temporary BentoML store. Slow tests share it.
TINY_CONFIG = {"epochs": 1, "article_fraction": 0.08, "batch_size": 32, "seed": 7}


@pytest.fixture(scope="session", autouse=True)
def bentoml_home(tmp_path_factory: pytest.TempPathFactory):
    """A private BENTOML_HOME so tests never touch the user's model store.

    Autouse, so it is in place before any test touches BentoML: BentoML resolves its model
    store once per process, and a test that looked up the store first (e.g. ``framing annotate
    export`` run in-process) would pin it to ``make test``'s own BENTOML_HOME, where servers
    started later with this home could not find the model trained for the session.
    """
    import os

    home = tmp_path_factory.mktemp("bentoml_home")
    old = os.environ.get("BENTOML_HOME")
    os.environ["BENTOML_HOME"] = str(home)
    from bentoml._internal.configuration.containers import BentoMLContainer

    BentoMLContainer.bentoml_home.set(str(home))
    yield home
    if old is None:
        os.environ.pop("BENTOML_HOME", None)
    else:
        os.environ["BENTOML_HOME"] = old


@pytest.fixture(scope="session")
def trained_model(bentoml_home, tmp_path_factory: pytest.TempPathFactory):
    """(exported model folder, store tag) of a tiny model trained for real."""
    from training.artefact import train_final
    from training.config import TrainingConfig
    from training.dataset import load_corpus

    corpus = load_corpus()
    clf, card, metadata = train_final(corpus, TrainingConfig(**TINY_CONFIG), progress=lambda _msg: None)
    export = tmp_path_factory.mktemp("model") / "framing-model"
    clf.save(export, card=card)
    from model.store import save_to_store

    tag = save_to_store(clf, card=card, metadata=metadata)
    return export, tag


# --------------------------------------------------------------------------- browser
# Debian's Chromium (installed by `make browser`) driven by Playwright; Playwright's own
# browser download is never used. Flags: headless, no sandbox (CI runs as root), and no
# background networking (this machine's network is closed; Chromium would keep retrying).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium ``Browser`` (Playwright sync API); open pages with ``new_page()``."""
    import shutil

    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or CHROMIUM
    assert shutil.which(executable), "Chromium is missing: run `make browser` (Debian chromium, chromium-driver)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
