"""The real server: ``bentoml serve serving.service:FramingService`` as a subprocess.

Checks what only a real server shows: the service imports and loads the model from the
store in a worker process, the HTTP layer (uvicorn) in front of it, /metrics, the body
size limit on real sockets, and concurrent requests merged by the batcher.
Listens on 127.0.0.1 only; every wait is bounded; the server is always stopped.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from serving.schemas import MAX_BODY_BYTES

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 180.0

SENTENCES = [
    "Azerbaijan launched what it termed local anti-terrorist measures to restore constitutional order.",
    "Armenia accused Baku of a large-scale aggression aimed at the ethnic cleansing of Karabakh Armenians.",
    "The EU urged an immediate ceasefire and a return to talks.",
]


@pytest.fixture(scope="module")
def server(trained_model, bentoml_home, tmp_path_factory):
    """Base URL of a running server (the fixture's BENTOML_HOME); always stopped on teardown."""
    from serving.server_process import Server

    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
    try:
        with Server(tmp_path_factory.mktemp("server-logs"), startup_timeout_s=STARTUP_TIMEOUT_S) as srv:
            yield srv.base
    except RuntimeError as exc:  # did not start: show why
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def http(server):
    import httpx

    with httpx.Client(base_url=server, timeout=120.0) as c:
        yield c


@pytest.fixture(scope="module")
def direct_clf(trained_model):
    from model.classifier import FramingClassifier

    export, _tag = trained_model
    return FramingClassifier.load(export)


def _assert_matches(got: dict[str, Any], expected: Any, tol: float = 1e-4) -> None:
    for key in ("frame_scores", "attribution_scores"):
        exp = getattr(expected, key)
        assert set(got[key]) == set(exp)
        for label, p in exp.items():
            assert abs(got[key][label] - p) <= tol, (key, label, got[key][label], p)
        assert abs(sum(got[key].values()) - 1.0) < 1e-4
    for label_key, scores_key in (("frame", "frame_scores"), ("attribution", "attribution_scores")):
        exp_label = getattr(expected, label_key)
        if got[label_key] != exp_label:
            exp_scores = getattr(expected, scores_key)
            assert abs(exp_scores[got[label_key]] - exp_scores[exp_label]) < tol, (label_key, got, expected)


def test_classify(http, direct_clf):
    r = http.post("/classify", json={"sentences": SENTENCES})
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out) == len(SENTENCES)
    for got, exp in zip(out, direct_clf.predict(SENTENCES), strict=True):
        _assert_matches(got, exp)


def test_score(http, trained_model, direct_clf):
    from model.text import segment

    _export, tag = trained_model
    articles = [
        {"source": "albiseyler", "text": next((REPO / "seeds" / "articles").glob("001_*.txt")).read_text("utf-8")},
        {"source": "unknown-004", "text": next((REPO / "seeds" / "articles").glob("004_*.txt")).read_text("utf-8")},
    ]
    r = http.post("/score", json={"articles": articles})
    assert r.status_code == 200, r.text[:2000]
    body = r.json()
    assert body["model"] == tag
    assert set(body["sources"]) == {"albiseyler", "unknown-004"}
    for i, art in enumerate(articles):
        got = [s for s in body["sentences"] if s["article"] == i]
        assert len(got) == len(segment(art["text"]))
        for s in got:
            assert art["text"][s["start"] : s["end"]] == s["text"]
        prof = body["sources"][art["source"]]
        assert prof["n_sentences"] == len(got)
        assert -1.0 <= prof["slant"] <= 1.0
        assert set(prof["frame_mean"]) == set(direct_clf.schema.frame_names)


def test_info(http, trained_model, direct_clf):
    _export, tag = trained_model
    r = http.get("/info", follow_redirects=True)  # see test_info_answers_without_a_redirect
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["model"] == tag
    assert [f["name"] for f in info["schema"]["frames"]] == direct_clf.schema.frame_names
    assert info["data_fingerprint"]


def test_info_answers_without_a_redirect(http):
    r = http.get("/info", follow_redirects=False)
    assert r.status_code == 200, (r.status_code, r.headers.get("location"), r.text[:200])
    assert r.json()["model"]


def test_metrics(http):
    http.post("/classify", json={"sentences": SENTENCES[:1]})
    r = http.get("/metrics")
    assert r.status_code == 200
    assert "bentoml" in r.text


@pytest.mark.parametrize("path", ["/livez", "/readyz"])
def test_health(http, path):
    assert http.get(path).status_code == 200


def test_bad_input_is_400_naming_the_field(http):
    r = http.post("/classify", json={"sentences": []})
    assert r.status_code == 400, r.text
    assert "sentences" in json.dumps(r.json())
    r = http.post("/classify", json={"sentences": ["ok", "nul\x00here"]})
    assert r.status_code == 400, r.text
    assert "control" in r.text


def test_body_over_the_limit_is_413(http):
    body = json.dumps({"sentences": ["x" * 1000] * (MAX_BODY_BYTES // 1000 + 10)}).encode()
    r = http.post("/classify", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413, (r.status_code, r.text[:500])
    assert r.json()["limit_bytes"] == MAX_BODY_BYTES


def test_chunked_body_over_the_limit_is_413_not_500(http):
    chunk = b"x" * 100_000

    def body():
        yield b'{"sentences": ["'
        for _ in range(MAX_BODY_BYTES // len(chunk) + 5):
            yield chunk
        yield b'"]}'

    r = http.post("/classify", content=body(), headers={"content-type": "application/json"})
    assert r.status_code == 413, (r.status_code, r.text[:500])
    assert r.json()["limit_bytes"] == MAX_BODY_BYTES


def test_concurrent_requests_get_their_own_answers(server, direct_clf):
    import httpx

    sentences = [f"{SENTENCES[i % 3]} Report number {i}." for i in range(16)]
    expected = dict(zip(sentences, direct_clf.predict(sentences), strict=True))

    def call(sentence: str) -> tuple[str, int, Any]:
        with httpx.Client(base_url=server, timeout=120.0) as c:
            r = c.post("/classify", json={"sentences": [sentence]})
            return sentence, r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(call, sentences, timeout=300))
    for sentence, status, body in results:
        assert status == 200, body
        assert len(body) == 1
        _assert_matches(body[0], expected[sentence])


def test_bentoml_build_packs_the_service_and_model(trained_model, bentoml_home):
    """`bentoml build` (config in pyproject.toml) produces a bento that references the trained model."""
    import subprocess
    import sys

    import yaml

    _export, tag = trained_model
    env = dict(os.environ, BENTOML_HOME=str(bentoml_home), BENTOML_DO_NOT_TRACK="True")
    result = subprocess.run(
        [sys.executable, "-m", "bentoml", "build", "--output", "tag"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    bento_tag = result.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    name, version = bento_tag.split(":")
    bento_yaml = yaml.safe_load((bentoml_home / "bentos" / name / version / "bento.yaml").read_text())
    assert [m["tag"] for m in bento_yaml["services"][0]["models"]] == [tag]
    assert (bentoml_home / "bentos" / name / version / "src" / "serving" / "service.py").is_file()
