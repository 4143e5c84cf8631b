"""The BentoML service in-process: ``FramingService.to_asgi()`` behind Starlette's TestClient.

Covers the three HTTP endpoints (/classify, /score, /info), the health probes, every
kind of bad input a client can send (each must be a 4xx JSON error naming the field,
never a 500), odd-but-valid Unicode (accepted and scored), and the batchable /classify
merging concurrent requests without mixing up their answers.

``serving.service`` is imported only inside fixtures that depend on ``trained_model``:
it resolves ``framing-classifier:latest`` from the (temporary) BentoML store at import.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from serving.schemas import MAX_ARTICLES, MAX_BODY_BYTES, MAX_HTML_CHARS, MAX_SENTENCES, MAX_TEXT_CHARS

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
ARTICLES_DIR = REPO / "seeds" / "articles"

SENTENCES = [
    "Azerbaijan launched what it termed local anti-terrorist measures to restore constitutional order.",
    "Armenia accused Baku of a large-scale aggression aimed at the ethnic cleansing of Karabakh Armenians.",
    "The EU urged an immediate ceasefire and a return to talks.",
    "Approximately 120,000 ethnic Armenians live in the enclave.",
    "Short headline",
]

ZWSP_RLM_SENTENCE = "The UN\u200b Secretary-General called for an \u200fimmediate\u200f cessation of hostilities."
EMOJI_SENTENCE = "Refugees crossed the Hakari bridge into Armenia 😢🇦🇲 as fuel ran out."
ARMENIAN_SENTENCE = "Ադրբեջանը սկսել է ռազմական գործողություն Լեռնային Ղարաբաղում։"
AZERBAIJANI_SENTENCE = "Azərbaycan Silahlı Qüvvələri Qarabağ bölgəsində lokal antiterror tədbirlərinə başlayıb."

ARMENIAN_ARTICLE = (
    "Ադրբեջանը սկսել է ռազմական գործողություն Լեռնային Ղարաբաղում։ "
    "Ստեփանակերտը ենթարկվել է ծանր հրետակոծության։\n"
    "Հայաստանի վարչապետը դատապարտել է հարձակումը։"
)
AZERBAIJANI_ARTICLE = (
    "Azərbaycan Silahlı Qüvvələri Qarabağ bölgəsində lokal antiterror tədbirlərinə başlayıb. "
    "Müdafiə Nazirliyi bildirib ki, əməliyyat mülki əhaliyə qarşı yönəlməyib.\n"
    "Prezident Administrasiyası danışıqlara hazır olduğunu açıqlayıb."
)
ENGLISH_ARTICLE = (
    "Azerbaijan launched what it termed local anti-terrorist measures on Tuesday. "
    "Karabakh officials said Stepanakert was under heavy shelling.\n"
    "The UN Secretary-General called for an immediate cessation of hostilities."
)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def service_module(trained_model):
    """``serving.service``, imported only once the model is in the store."""
    import serving.service as service

    return service


@pytest.fixture(scope="module")
def client(service_module):
    from starlette.testclient import TestClient

    app = service_module.FramingService.to_asgi()
    with TestClient(app) as c:  # runs the lifespan: the service instance loads the model
        yield c


@pytest.fixture(scope="module")
def direct_clf(trained_model):
    """The same trained model, loaded straight from the exported folder."""
    from model.classifier import FramingClassifier

    export, _tag = trained_model
    return FramingClassifier.load(export)


@pytest.fixture(scope="module")
def frames(direct_clf) -> list[str]:
    return direct_clf.schema.frame_names


@pytest.fixture(scope="module")
def attributions(direct_clf) -> list[str]:
    return direct_clf.schema.attribution_names


def _seed(prefix: str) -> str:
    matches = sorted(ARTICLES_DIR.glob(f"{prefix}_*.txt"))
    assert len(matches) == 1, f"expected one seed article {prefix}_*.txt, found {matches}"
    return matches[0].read_text(encoding="utf-8")


# --------------------------------------------------------------------------- helpers
def assert_distribution(scores: dict[str, float], labels: list[str]) -> None:
    assert set(scores) == set(labels), f"scores for {sorted(scores)}, expected {sorted(labels)}"
    assert all(0.0 <= v <= 1.0 for v in scores.values()), scores
    assert math.isclose(sum(scores.values()), 1.0, abs_tol=1e-4), sum(scores.values())


def assert_labels_shape(item: dict[str, Any], frames: list[str], attributions: list[str]) -> None:
    assert item["frame"] in frames
    assert item["attribution"] in attributions
    assert_distribution(item["frame_scores"], frames)
    assert_distribution(item["attribution_scores"], attributions)
    # the label is the most probable one
    assert item["frame_scores"][item["frame"]] == pytest.approx(max(item["frame_scores"].values()), abs=1e-6)
    assert item["attribution_scores"][item["attribution"]] == pytest.approx(
        max(item["attribution_scores"].values()), abs=1e-6
    )


def assert_same_prediction(got: dict[str, Any], expected: Any, tol: float = 1e-4) -> None:
    """``got`` (JSON from the service) matches ``expected`` (a model.classifier.Prediction)."""
    for key in ("frame_scores", "attribution_scores"):
        exp = getattr(expected, key)
        assert set(got[key]) == set(exp)
        for label, p in exp.items():
            assert got[key][label] == pytest.approx(p, abs=tol), (key, label, got[key][label], p)
    for label_key, scores_key in (("frame", "frame_scores"), ("attribution", "attribution_scores")):
        exp_label = getattr(expected, label_key)
        if got[label_key] != exp_label:
            # only tolerable for an exact tie (within float noise from different padding)
            exp_scores = getattr(expected, scores_key)
            assert abs(exp_scores[got[label_key]] - exp_scores[exp_label]) < tol, (
                f"{label_key}: service said {got[label_key]!r}, direct predict {exp_label!r}"
            )


def error_text(response: Any) -> str:
    """The whole JSON error body as one string (field names, loc, messages)."""
    return json.dumps(response.json(), ensure_ascii=False)


def assert_client_error(response: Any, *, field: str, status: int | None = None, mentions: tuple[str, ...] = ()):
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:2000])
    if status is not None:
        assert response.status_code == status, (response.status_code, response.text[:2000])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    text = error_text(response)
    locs = (
        [list(map(str, d.get("loc", []))) for d in body.get("detail", []) if isinstance(d, dict)]
        if isinstance(body, dict) and isinstance(body.get("detail"), list)
        else []
    )
    assert any(field in loc for loc in locs) or field in text, f"error does not name {field!r}: {text[:2000]}"
    for m in mentions:
        assert m in text, f"error does not mention {m!r}: {text[:2000]}"
    return body


# --------------------------------------------------------------------------- /classify
def test_classify_returns_one_result_per_sentence_in_order(client, direct_clf, frames, attributions):
    r = client.post("/classify", json={"sentences": SENTENCES})
    assert r.status_code == 200, r.text
    out = r.json()
    assert isinstance(out, list) and len(out) == len(SENTENCES)
    for item in out:
        assert_labels_shape(item, frames, attributions)
    expected = direct_clf.predict(SENTENCES)
    for got, exp in zip(out, expected, strict=True):
        assert_same_prediction(got, exp)


def test_classify_single_sentence_matches_direct_predict(client, direct_clf):
    sentence = SENTENCES[1]
    r = client.post("/classify", json={"sentences": [sentence]})
    assert r.status_code == 200, r.text
    (got,) = r.json()
    assert_same_prediction(got, direct_clf.predict([sentence])[0])


def test_classify_accepts_the_maximum_number_of_sentences(client, frames, attributions):
    sentences = [f"Talks number {i} were held in Brussels on Tuesday." for i in range(MAX_SENTENCES)]
    r = client.post("/classify", json={"sentences": sentences})
    assert r.status_code == 200, r.text[:2000]
    out = r.json()
    assert len(out) == MAX_SENTENCES
    assert_labels_shape(out[0], frames, attributions)
    assert_labels_shape(out[-1], frames, attributions)


@pytest.mark.parametrize(
    "sentence",
    [ZWSP_RLM_SENTENCE, EMOJI_SENTENCE, ARMENIAN_SENTENCE, AZERBAIJANI_SENTENCE],
    ids=["zero-width-and-rtl-marks", "emoji", "armenian", "azerbaijani"],
)
def test_classify_accepts_odd_but_valid_unicode(client, direct_clf, frames, attributions, sentence):
    r = client.post("/classify", json={"sentences": [sentence]})
    assert r.status_code == 200, r.text
    (got,) = r.json()
    assert_labels_shape(got, frames, attributions)
    assert_same_prediction(got, direct_clf.predict([sentence])[0])


def test_classify_agrees_with_score_for_the_same_sentence(client):
    """A sentence gets the same labels whether sent to /classify or inside an article to /score.

    The model was trained on ``model.text.normalise``d text and /score feeds it normalised
    text, so /classify must read the same thing (typographic quotes, invisible characters,
    mojibake must not change the answer depending on the endpoint).
    """
    sentences = [
        "Armenia condemned the “large-scale aggression” against Karabakh.",
        ZWSP_RLM_SENTENCE,
        "Azerbaijan‚Äôs defence ministry said the ‘anti-terrorist’ measures would continue.",
        'Plain sentence with straight quotes: "the operation is over", Baku said.',
    ]
    for sentence in sentences:
        c = client.post("/classify", json={"sentences": [sentence]})
        s = client.post("/score", json={"articles": [{"source": "x", "text": sentence}]})
        assert c.status_code == 200 and s.status_code == 200, (c.text, s.text)
        (cl,) = c.json()
        (sc,) = s.json()["sentences"]
        assert sc["text"] == sentence
        for key in ("frame_scores", "attribution_scores"):
            for label, p in sc[key].items():
                assert cl[key][label] == pytest.approx(p, abs=1e-3), (
                    f"/classify and /score disagree on {sentence!r}: {key}[{label}] classify={cl[key][label]} score={p}"
                )


def test_concurrent_classify_requests_get_their_own_answers(client, direct_clf):
    """The batchable endpoint merges concurrent requests; each must get its own sentence's labels."""
    sentences = [
        f"{base} (report {i})"
        for i, base in enumerate(
            [
                "Azerbaijan launched local anti-terrorist measures to restore constitutional order",
                "Armenia accused Baku of ethnic cleansing of Karabakh Armenians",
                "The EU urged an immediate ceasefire",
                "Over 100,000 refugees fled to Armenia",
                "Short headline",
                "Karabakh officials said Stepanakert was under heavy shelling",
                "The Kremlin said its peacekeepers stayed neutral",
                "Baku promised to protect the rights of Armenian residents",
            ]
            * 2
        )
    ]
    assert len(sentences) == 16
    expected = {s: p for s, p in zip(sentences, direct_clf.predict(sentences), strict=True)}

    def call(sentence: str) -> tuple[str, int, Any]:
        r = client.post("/classify", json={"sentences": [sentence]})
        return sentence, r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(call, sentences, timeout=300))
    assert len(results) == 16
    for sentence, status, body in results:
        assert status == 200, (sentence, body)
        assert isinstance(body, list) and len(body) == 1, (sentence, body)
        assert_same_prediction(body[0], expected[sentence])


def test_concurrent_multi_sentence_requests_keep_their_own_order(client, direct_clf):
    """Requests of different sizes merged into one batch are split back correctly."""
    requests = [SENTENCES[: k % len(SENTENCES) + 1][::-1] for k in range(12)]
    flat = sorted({s for req in requests for s in req})
    expected = dict(zip(flat, direct_clf.predict(flat), strict=True))

    def call(req: list[str]) -> tuple[list[str], int, Any]:
        r = client.post("/classify", json={"sentences": req})
        return req, r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(call, requests, timeout=300))
    for req, status, body in results:
        assert status == 200, body
        assert len(body) == len(req), (req, body)
        for sentence, got in zip(req, body, strict=True):
            assert_same_prediction(got, expected[sentence])


# --------------------------------------------------------------------------- /score
@pytest.fixture(scope="module")
def two_seed_articles() -> list[dict[str, str]]:
    return [
        {"source": "albiseyler", "text": _seed("001"), "title": "Azerbaijani forces attack Nagorno-Karabakh"},
        {"source": "unknown-004", "text": _seed("004")},
    ]


@pytest.fixture(scope="module")
def scored(client, two_seed_articles) -> dict[str, Any]:
    r = client.post("/score", json={"articles": two_seed_articles})
    assert r.status_code == 200, r.text[:2000]
    return r.json()


def test_score_sentences_point_back_into_the_articles(scored, two_seed_articles, frames, attributions):
    from model.text import segment

    sentences = scored["sentences"]
    assert sentences
    for s in sentences:
        assert s["article"] in (0, 1)
        text = two_seed_articles[s["article"]]["text"]
        assert 0 <= s["start"] < s["end"] <= len(text)
        assert text[s["start"] : s["end"]] == s["text"]
        assert_labels_shape(s, frames, attributions)
    for i, art in enumerate(two_seed_articles):
        expected = segment(art["text"])
        got = [s for s in sentences if s["article"] == i]
        assert len(got) == len(expected), f"article {i}: {len(got)} sentences, segment() gives {len(expected)}"
        assert [(s["start"], s["end"], s["sentence_index"]) for s in got] == [
            (e.start, e.end, e.index) for e in expected
        ]


def test_score_sentence_labels_match_direct_predict_of_the_clean_text(scored, two_seed_articles, direct_clf):
    """/score reads each sentence with the context the shared builder gives it (the model reads context)."""
    from serving.scoring import segment_articles, unit_contexts

    assert direct_clf.context_settings is not None
    units, _, _ = segment_articles(two_seed_articles)
    contexts = unit_contexts(two_seed_articles, units, direct_clf.context_settings)
    assert sum(bool(c) for c in contexts) > len(units) // 2
    expected = direct_clf.predict([u.clean for _, u in units], contexts=contexts)
    assert len(scored["sentences"]) == len(expected)
    for got, exp in zip(scored["sentences"], expected, strict=True):
        assert_same_prediction(got, exp)


def test_score_articles_summary(scored, two_seed_articles):
    from model.text import segment

    arts = scored["articles"]
    assert [a["article"] for a in arts] == [0, 1]
    assert [a["source"] for a in arts] == ["albiseyler", "unknown-004"]
    assert arts[0]["title"] == two_seed_articles[0]["title"]
    for a, art in zip(arts, two_seed_articles, strict=True):
        assert a["n_sentences"] == len(segment(art["text"]))
        assert a["non_english"] is False, a
        assert a["language_note"] is None


def test_score_source_profiles(scored, frames, attributions, trained_model, direct_clf):
    _export, tag = trained_model
    assert scored["model"] == tag
    sources = scored["sources"]
    assert set(sources) == {"albiseyler", "unknown-004"}
    per_article = {a["source"]: a["n_sentences"] for a in scored["articles"]}
    schema = direct_clf.schema
    for name, prof in sources.items():
        assert prof["n_sentences"] == per_article[name] > 0
        assert set(prof["frame_mean"]) == set(frames)
        assert all(0.0 <= v <= 1.0 for v in prof["frame_mean"].values())
        assert math.isclose(sum(prof["frame_mean"].values()), 1.0, abs_tol=1e-3)
        assert -1.0 <= prof["slant"] <= 1.0
        lo, hi = prof["slant_ci"]
        assert -1.0 <= lo <= hi <= 1.0
        assert lo - 1e-4 <= prof["slant"] <= hi + 1e-4
        assert prof["adopted_slant"] is None or -1.0 <= prof["adopted_slant"] <= 1.0
        mix = prof["attribution_mix"]
        assert set(mix) == {schema.positive_side, schema.negative_side}
        for side in mix.values():
            assert set(attributions) <= set(side)
            shares = [side[a] for a in attributions]
            if all(v is not None for v in shares):
                assert math.isclose(sum(shares), 1.0, abs_tol=1e-3)
    assert isinstance(scored["warnings"], list)


def test_score_flags_non_english_articles(client, frames, attributions):
    articles = [
        {"source": "armenpress-hy", "text": ARMENIAN_ARTICLE},
        {"source": "report-az", "text": AZERBAIJANI_ARTICLE},
        {"source": "wire-en", "text": ENGLISH_ARTICLE},
    ]
    r = client.post("/score", json={"articles": articles})
    assert r.status_code == 200, r.text
    body = r.json()
    arts = body["articles"]
    assert [a["non_english"] for a in arts] == [True, True, False], arts
    assert arts[0]["language_note"] and arts[1]["language_note"]
    assert arts[2]["language_note"] is None
    warnings = body["warnings"]
    assert any("article 0" in w and "armenpress-hy" in w for w in warnings), warnings
    assert any("article 1" in w and "report-az" in w for w in warnings), warnings
    assert not any("article 2" in w for w in warnings), warnings
    for s in body["sentences"]:
        assert articles[s["article"]]["text"][s["start"] : s["end"]] == s["text"]
        assert_labels_shape(s, frames, attributions)
    assert {a["n_sentences"] for a in arts} and all(a["n_sentences"] > 0 for a in arts)
    assert set(body["sources"]) == {"armenpress-hy", "report-az", "wire-en"}


def test_score_accepts_odd_unicode_in_an_english_article(client):
    text = f"{ZWSP_RLM_SENTENCE} {EMOJI_SENTENCE}\n{ENGLISH_ARTICLE}"
    r = client.post("/score", json={"articles": [{"source": "odd", "text": text}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["articles"][0]["non_english"] is False
    assert body["sentences"]
    for s in body["sentences"]:
        assert text[s["start"] : s["end"]] == s["text"]


def test_score_article_of_only_page_debris_is_a_warning_not_an_error(client):
    articles = [
        {"source": "debris", "text": "Leave a Reply\nIMAGE SOURCE: AP\nClick to continue reading"},
        {"source": "wire-en", "text": ENGLISH_ARTICLE},
    ]
    r = client.post("/score", json={"articles": articles})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["articles"][0]["n_sentences"] == 0
    assert all(s["article"] == 1 for s in body["sentences"])
    assert any("article 0" in w and "no content sentences" in w for w in body["warnings"]), body["warnings"]
    assert "wire-en" in body["sources"]


# --------------------------------------------------------------------------- /info and probes
def test_info(client, trained_model, direct_clf):
    _export, tag = trained_model
    r = client.get("/info", follow_redirects=True)  # see test_info_answers_without_a_redirect
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["model"] == tag
    assert info["backend"] == "onnx-int8"  # the fast path is the default where the model carries its graph
    assert [f["name"] for f in info["schema"]["frames"]] == direct_clf.schema.frame_names
    assert [a["name"] for a in info["schema"]["attributions"]] == direct_clf.schema.attribution_names
    assert info["data_fingerprint"]
    assert info["data_fingerprint"] == direct_clf.info.get("data_fingerprint")
    assert info["limits"] == {
        "max_sentences": MAX_SENTENCES,
        "max_articles": MAX_ARTICLES,
        "max_body_bytes": MAX_BODY_BYTES,
        "max_html_chars": MAX_HTML_CHARS,
    }


def test_info_answers_without_a_redirect(client):
    """GET /info itself must answer (a plain ``curl /info`` gets the JSON, not an empty 307)."""
    r = client.get("/info", follow_redirects=False)
    assert r.status_code == 200, (r.status_code, r.headers.get("location"), r.text[:200])
    assert r.json()["model"]


@pytest.mark.parametrize("path", ["/livez", "/readyz"])
def test_health_probes(client, path):
    assert client.get(path).status_code == 200


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "payload, field",
    [
        ({"sentences": []}, "sentences"),
        ({"sentences": ["   \n\t "]}, "sentences"),
        ({"sentences": ["fine sentence", "  "]}, "sentences"),
        ({"sentences": [1, 2]}, "sentences"),
        ({"sentences": ["ok", None]}, "sentences"),
        ({"sentences": [{"txt": "a"}]}, "sentences"),
        ({"sentences": [{"text": "a", "context": 5}]}, "sentences"),
        ({"sentences": [{"text": "a", "context": ["b"]}]}, "sentences"),
        ({"sentences": [{"text": "a", "context": "b", "extra": 1}]}, "sentences"),
        ({}, "sentences"),
        ({"sentence": ["typo in the field name"]}, "sentences"),
        ({"sentences": "abc"}, "sentences"),
        ({"sentences": None}, "sentences"),
    ],
    ids=[
        "empty-list",
        "whitespace-only",
        "one-blank-among-good",
        "ints",
        "null-item",
        "object-without-text",
        "context-not-string",
        "context-list",
        "object-extra-field",
        "missing-field",
        "misspelt-field",
        "string-not-list",
        "null",
    ],
)
def test_classify_rejects_bad_input_naming_the_field(client, payload, field):
    assert_client_error(client.post("/classify", json=payload), field=field)


def test_classify_rejects_invalid_json(client):
    r = client.post("/classify", content=b'{"sentences": ["unterminated', headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    assert "json" in r.text.lower(), r.text


def test_classify_rejects_a_non_object_json_body(client):
    r = client.post("/classify", json=["a bare list", "not an object"])
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")


def test_classify_rejects_too_many_sentences(client):
    sentences = ["Talks were held in Brussels."] * (MAX_SENTENCES + 1)
    assert_client_error(
        client.post("/classify", json={"sentences": sentences}), field="sentences", mentions=(str(MAX_SENTENCES),)
    )


def test_classify_reads_context_items_like_score(client, direct_clf, scored, two_seed_articles):
    """{text, context} items give /score's answer for the same sentence; strings and items mix in one call."""
    from serving.scoring import segment_articles, unit_contexts

    units, _, _ = segment_articles(two_seed_articles)
    contexts = unit_contexts(two_seed_articles, units, direct_clf.context_settings)
    picks = [3, 4, 5]
    items = [{"text": units[k][1].text, "context": contexts[k]} for k in picks]
    r = client.post("/classify", json={"sentences": [SENTENCES[0], *items]})
    assert r.status_code == 200, r.text
    got = r.json()
    assert_same_prediction(got[0], direct_clf.predict([SENTENCES[0]])[0])
    for item, k in zip(got[1:], picks, strict=True):
        assert item["frame_scores"] == pytest.approx(scored["sentences"][k]["frame_scores"], abs=1e-4)
        assert item["attribution_scores"] == pytest.approx(scored["sentences"][k]["attribution_scores"], abs=1e-4)
    alone = client.post("/classify", json={"sentences": [{"text": units[picks[0]][1].text}]}).json()[0]
    assert_same_prediction(alone, direct_clf.predict([units[picks[0]][1].text])[0])  # no context = read alone


def test_classify_rejects_an_overlong_context_naming_the_field(client):
    from serving.schemas import MAX_SENTENCE_CHARS

    r = client.post(
        "/classify", json={"sentences": [{"text": "Talks resumed.", "context": "x" * (MAX_SENTENCE_CHARS + 1)}]}
    )
    assert_client_error(r, field="sentences", mentions=(str(MAX_SENTENCE_CHARS),))


def test_classify_rejects_an_overlong_sentence(client):
    from serving.schemas import MAX_SENTENCE_CHARS

    r = client.post("/classify", json={"sentences": ["word " * (MAX_SENTENCE_CHARS // 5 + 1)]})
    assert_client_error(r, field="sentences", mentions=(str(MAX_SENTENCE_CHARS),))


@pytest.mark.parametrize(
    "bad", ["nul\x00inside", "bell\x07ring", "escape\x1b[31m", "\x00"], ids=["nul", "bel", "esc", "only-nul"]
)
def test_classify_rejects_control_characters(client, bad):
    body = assert_client_error(
        client.post("/classify", json={"sentences": ["A clean sentence.", bad]}), field="sentences", status=400
    )
    assert "control" in json.dumps(body).lower()


def _article(**overrides: Any) -> dict[str, Any]:
    return {"source": "wire", "text": ENGLISH_ARTICLE, **overrides}


@pytest.mark.parametrize(
    "payload, field, mentions",
    [
        ({"articles": []}, "articles", ()),
        ({}, "articles", ()),
        ({"articles": "abc"}, "articles", ()),
        ({"articles": [{"text": ENGLISH_ARTICLE}]}, "source", ()),
        ({"articles": [_article(source="   ")]}, "source", ()),
        ({"articles": [_article(source="")]}, "source", ()),
        ({"articles": [_article(source=42)]}, "source", ()),
        ({"articles": [{"source": "wire"}]}, "text", ()),
        ({"articles": [_article(text=" \n ")]}, "text", ()),
        ({"articles": [_article(text="a\x00b")]}, "text", ("control",)),
        ({"articles": [_article(source="wi\x00re")]}, "source", ("control",)),
        ({"articles": [_article(published="not a date")]}, "published", ()),
        ({"articles": [_article(text="x" * (MAX_TEXT_CHARS + 1))]}, "text", (str(MAX_TEXT_CHARS),)),
        ({"articles": [_article() for _ in range(MAX_ARTICLES + 1)]}, "articles", (str(MAX_ARTICLES),)),
    ],
    ids=[
        "empty-list",
        "missing-articles",
        "string-not-list",
        "missing-source",
        "blank-source",
        "empty-source",
        "int-source",
        "missing-text",
        "blank-text",
        "nul-in-text",
        "nul-in-source",
        "bad-date",
        "text-over-limit",
        "too-many-articles",
    ],
)
def test_score_rejects_bad_input_naming_the_field(client, payload, field, mentions):
    assert_client_error(client.post("/score", json=payload), field=field, mentions=mentions)


def test_score_rejects_invalid_json(client):
    r = client.post("/score", content=b"{articles: nope}", headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")


def test_body_over_the_byte_limit_is_413_with_the_limit(client):
    filler = "x" * 1000
    sentences = [filler] * (MAX_BODY_BYTES // 1000 + 10)
    body = json.dumps({"sentences": sentences}).encode()
    assert len(body) > MAX_BODY_BYTES
    r = client.post("/classify", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413, (r.status_code, r.text[:500])
    data = r.json()
    assert data["limit_bytes"] == MAX_BODY_BYTES
    assert str(MAX_BODY_BYTES) in data["error"]


def test_score_body_over_the_byte_limit_is_413(client):
    articles = [_article(text="word " * 19_000) for _ in range(25)]  # ~2.4 MB, each article within limits
    body = json.dumps({"articles": articles}).encode()
    assert len(body) > MAX_BODY_BYTES
    r = client.post("/score", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413, (r.status_code, r.text[:500])
    assert r.json()["limit_bytes"] == MAX_BODY_BYTES


def test_chunked_body_over_the_byte_limit_is_413_not_500(client):
    """No Content-Length (chunked upload): the limit must still give a 413, not a 500."""
    chunk = b"x" * 100_000
    n_chunks = MAX_BODY_BYTES // len(chunk) + 5

    def body():
        yield b'{"sentences": ["'
        for _ in range(n_chunks):
            yield chunk
        yield b'"]}'

    r = client.post("/classify", content=body(), headers={"content-type": "application/json"})
    assert r.status_code == 413, (r.status_code, r.text[:500])
    assert r.json()["limit_bytes"] == MAX_BODY_BYTES


def test_body_just_under_the_byte_limit_is_not_refused_for_size(client):
    # 400 sentences of ~4,900 chars: ~1.96 MB, each item within MAX_SENTENCE_CHARS
    sentences = [("The talks in Brussels ended. " * 169)[:4900]] * 400
    body = json.dumps({"sentences": sentences}).encode()
    assert len(body) <= MAX_BODY_BYTES
    r = client.post("/classify", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert len(r.json()) == 400


def test_the_service_still_works_after_bad_requests(client, direct_clf):
    client.post("/classify", json={"sentences": []})
    client.post("/classify", content=b"not json", headers={"content-type": "application/json"})
    r = client.post("/classify", json={"sentences": [SENTENCES[0]]})
    assert r.status_code == 200
    assert_same_prediction(r.json()[0], direct_clf.predict([SENTENCES[0]])[0])


# --------------------------------------------------------------------------- web pages and timeline
HTML_DIR = Path(__file__).resolve().parent / "data" / "html"


def test_score_takes_web_pages_and_returns_the_text_its_offsets_refer_to(client):
    from serving.html import extract_html

    page = (HTML_DIR / "article.html").read_text(encoding="utf-8")
    r = client.post(
        "/score",
        json={
            "articles": [
                {"source": "ledger", "html": page},
                {"source": "ledger", "html": (HTML_DIR / "headline_only.html").read_text(encoding="utf-8")},
                {"source": "wire", "text": ENGLISH_ARTICLE, "published": "2023-09-21"},
            ]
        },
    )
    assert r.status_code == 200, r.text[:500]
    data = r.json()
    extracted = extract_html(page)
    first = next(a for a in data["articles"] if a["article"] == 0)
    assert first["extracted_text"] == extracted.text and first["title"] == extracted.title
    assert first["published"] == extracted.published
    for s in (s for s in data["sentences"] if s["article"] == 0):
        assert first["extracted_text"][s["start"] : s["end"]] == s["text"]
    assert "cookie" not in first["extracted_text"].lower()  # page furniture is not the article
    # The headline-only page is a reject with its reason; the other two are scored, indices kept.
    assert [(x["article"], x["source"]) for x in data["rejects"]] == [(1, "ledger")]
    assert "no article text" in data["rejects"][0]["reason"]
    assert sorted(a["article"] for a in data["articles"]) == [0, 2]
    assert {s["article"] for s in data["sentences"]} == {0, 2}


def test_score_timeline_is_the_batch_timeline(client, trained_model):
    from model.classifier import FramingClassifier
    from model.timeline import source_timeline

    articles = [
        {"source": "wire", "text": ENGLISH_ARTICLE, "published": "2023-09-19"},
        {"source": "wire", "text": ENGLISH_ARTICLE.upper(), "published": "2023-09-27"},
        {"source": "herald", "text": ENGLISH_ARTICLE, "published": "2023-09-20"},
        {"source": "herald", "text": ENGLISH_ARTICLE},
    ]
    r = client.post("/score", json={"articles": articles, "period": "week"})
    assert r.status_code == 200, r.text[:500]
    data = r.json()
    rows = data["timeline"]
    assert [(x["source"], x["period_start"]) for x in rows] == [
        ("herald", "2023-09-18"),
        ("wire", "2023-09-18"),
        ("wire", "2023-09-25"),
    ]
    assert all(x["low_n"] for x in rows)  # a few sentences a week: flagged, not hidden
    assert "1 article" in data["timeline_note"]
    clf = FramingClassifier.load(trained_model[0])
    sentences = data["sentences"]
    order = [(s["article"], s["sentence_index"]) for s in sentences]
    assert order == sorted(order)
    frame_p = np.array([[s["frame_scores"][f] for f in clf.schema.frame_names] for s in sentences])
    attr_p = np.array([[s["attribution_scores"][a] for a in clf.schema.attribution_names] for s in sentences])
    published = [articles[s["article"]].get("published") for s in sentences]
    expected = source_timeline(
        [articles[s["article"]]["source"] for s in sentences], published, [str(s["article"]) for s in sentences],
        frame_p, attr_p, clf.schema, period="week",
    )  # fmt: skip
    for got, want in zip(rows, expected.rows, strict=True):
        assert got["n_sentences"] == want["n_sentences"] and got["n_articles"] == want["n_articles"]
        assert got["slant"] == pytest.approx(want["slant"], abs=1e-3)  # scores are rounded in the response
    monthly = client.post("/score", json={"articles": articles, "period": "month"}).json()["timeline"]
    assert [(x["source"], x["period_start"]) for x in monthly] == [("herald", "2023-09-01"), ("wire", "2023-09-01")]
    assert client.post("/score", json={"articles": articles, "period": "year"}).status_code == 400


@pytest.mark.parametrize(
    ("article", "words"),
    [
        ({"source": "x"}, "found neither"),
        ({"source": "x", "text": "Talks.", "html": "<p>Talks.</p>"}, "found both"),
        ({"source": "x", "html": "   "}, "not only whitespace"),
    ],
)
def test_score_needs_text_or_html_and_not_both(client, article, words):
    r = client.post("/score", json={"articles": [article]})
    assert r.status_code == 400 and words in r.text
