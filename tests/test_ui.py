"""The web page (serving/ui.py, serving/ui/*): its routes in-process, then driven for real.

The browser tests start the real server (``bentoml serve``, the session's tiny trained
model) with small limits (3 articles, 9,000 characters an article) so the page must
read its limits from the server, and drive Debian's Chromium through Playwright: paste
two seed articles, press Analyse, and compare what the page shows and downloads with
what ``POST /score`` answers for the very same request body. Screenshots (desktop and
phone width) go to ``reports/ui/`` (git-ignored) and to the test's tmp_path.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
UI_DIR = REPO / "serving" / "ui"
SCREENSHOTS = REPO / "reports" / "ui"
STARTUP_TIMEOUT_S = 180.0
ANALYSE_TIMEOUT_MS = 120_000
UI_LIMITS = {"FRAMING_MAX_ARTICLES": "3", "FRAMING_MAX_TEXT_CHARS": "9000"}
SOURCES = ("albiseyler", "wire-004")
TITLE = "Azerbaijani forces attack Nagorno-Karabakh"


# =========================================================================== routes, in-process
@pytest.fixture(scope="module")
def ui_client():
    """Only the page's routes (no model needed): what the service mounts beside /info."""
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from serving.ui import ui_routes

    with TestClient(Starlette(routes=ui_routes())) as client:
        yield client


def test_root_redirects_to_the_page(ui_client):
    r = ui_client.get("/", follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == "ui"  # relative: keeps a reverse proxy's path prefix
    r = ui_client.get("/ui/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "../ui"
    assert ui_client.get("/").url.path == "/ui"


def test_page_is_html_with_a_strict_policy_and_versioned_assets(ui_client):
    from serving.ui import asset_version

    r = ui_client.get("/ui")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    version = asset_version()
    assert f'href="ui/static/app.css?v={version}"' in r.text
    assert f'src="ui/static/app.js?v={version}"' in r.text
    assert "{{" not in r.text  # every placeholder filled


def test_page_embeds_the_limits_the_server_enforces(ui_client):
    from serving.schemas import MAX_ARTICLES, MAX_BODY_BYTES, MAX_TEXT_CHARS

    html = ui_client.get("/ui").text
    config = json.loads(re.search(r'<script id="ui-config" type="application/json">(.*?)</script>', html).group(1))
    limits = config["limits"]
    assert limits["max_articles"] == MAX_ARTICLES
    assert limits["max_text_chars"] == MAX_TEXT_CHARS
    assert limits["max_body_bytes"] == MAX_BODY_BYTES
    assert limits["max_source_chars"] == 200 and limits["max_title_chars"] == 1000  # Article's field limits


@pytest.mark.parametrize(("name", "content_type"), [("app.js", "text/javascript"), ("app.css", "text/css")])
def test_assets_have_their_type_and_cache_headers(ui_client, name, content_type):
    from serving.ui import asset_version

    versioned = ui_client.get(f"/ui/static/{name}", params={"v": asset_version()})
    assert versioned.status_code == 200
    assert versioned.headers["content-type"].startswith(content_type)
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert versioned.content == (UI_DIR / name).read_bytes()
    stale = ui_client.get(f"/ui/static/{name}", params={"v": "old"})
    assert stale.headers["cache-control"] == "no-cache"  # an old link must not pin an old file
    etag = versioned.headers["etag"]
    again = ui_client.get(f"/ui/static/{name}", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize("path", ["/ui/static/nope.js", "/ui/static/index.html", "/ui/static/..%2Fui.py"])
def test_only_the_two_assets_are_served(ui_client, path):
    r = ui_client.get(path)
    assert r.status_code == 404
    assert "import" not in r.text  # never a source file
    if "%2F" not in path:
        assert r.json()["expected"] == ["app.css", "app.js"]


def test_the_page_loads_nothing_from_elsewhere_and_never_parses_html():
    """No CDN, font or analytics URL in any page file; user text never goes through innerHTML."""
    for name in ("index.html", "app.js", "app.css"):
        text = (UI_DIR / name).read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), name
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", text), name


# =========================================================================== the real server and browser
@pytest.fixture(scope="module")
def server(trained_model, bentoml_home, tmp_path_factory):
    """Base URL of ``bentoml serve`` with small limits; always stopped on teardown."""
    from serving.server_process import Server

    srv = Server(tmp_path_factory.mktemp("ui-server-logs"), startup_timeout_s=STARTUP_TIMEOUT_S)
    with pytest.MonkeyPatch.context() as mp:  # the limits reach the server process only
        mp.setenv("BENTOML_DO_NOT_TRACK", "True")
        for key, value in UI_LIMITS.items():
            mp.setenv(key, value)
        try:
            srv.start()
        except RuntimeError as exc:
            srv.stop()
            pytest.fail(str(exc))
    try:
        yield srv.base
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def http(server):
    import httpx

    with httpx.Client(base_url=server, timeout=120.0) as client:
        yield client


@pytest.fixture(scope="module")
def schema_info(http) -> dict[str, Any]:
    r = http.get("/info")
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def two_articles(seed_articles) -> list[dict[str, str]]:
    by_prefix = {doc_id[:3]: text for doc_id, text in seed_articles.items()}
    return [
        {"source": SOURCES[0], "title": TITLE, "text": by_prefix["001"]},
        {"source": SOURCES[1], "text": by_prefix["004"]},
    ]


class Watch:
    """Console errors, page errors and every request a page makes."""

    def __init__(self, page: Any):
        self.console_errors: list[str] = []
        self.requests: list[Any] = []
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.console_errors.append(f"page error: {e}"))
        page.on("request", lambda r: self.requests.append(r))

    def posts_to(self, path: str) -> list[Any]:
        return [r for r in self.requests if r.method == "POST" and r.url.endswith(path)]


def open_page(browser: Any, base: str, **context_args: Any) -> tuple[Any, Any, Watch]:
    context = browser.new_context(accept_downloads=True, **context_args)
    page = context.new_page()
    watch = Watch(page)
    page.goto(f"{base}/")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    return context, page, watch


def paste(page: Any, articles: list[dict[str, str]]) -> None:
    for i, art in enumerate(articles, start=1):
        if i > 1:
            page.click("#add-article")
        page.fill(f"#article-{i}-source", art["source"])
        if art.get("title"):
            page.fill(f"#article-{i}-title", art["title"])
        page.fill(f"#article-{i}-text", art["text"])


def analyse(page: Any) -> None:
    page.click("#analyse")
    page.wait_for_selector("#results:not([hidden]) .sentence", timeout=ANALYSE_TIMEOUT_MS)
    assert page.is_enabled("#analyse")


def save_screenshot(page: Any, name: str, tmp_path: Path) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for folder in (SCREENSHOTS, tmp_path):
        page.screenshot(path=str(folder / name), full_page=True)
    assert (tmp_path / name).stat().st_size > 10_000


def card_boxes(page: Any) -> list[dict[str, float]]:
    """The source cards' boxes in page coordinates, measured at one instant (the page may be scrolling)."""
    return page.eval_on_selector_all(
        ".source-card",
        """nodes => nodes.map(n => { const r = n.getBoundingClientRect();
            return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}; })""",
    )


def signed(v: float | None) -> str:
    """The page's number format for slants (a real minus sign)."""
    if v is None:
        return "n/a"
    text = f"{abs(v):.2f}"
    return text if text == "0.00" else ("\u2212" if v < 0 else "+") + text


def number(text: str) -> float:
    return float(text.strip().replace("\u2212", "-").rstrip("%"))


def close(got: Any, want: Any, tol: float = 1e-6) -> bool:
    """Nested JSON equality with a float tolerance."""
    if isinstance(want, dict):
        return isinstance(got, dict) and set(got) == set(want) and all(close(got[k], want[k], tol) for k in want)
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(close(g, w, tol) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, float) and isinstance(got, int | float):
        return math.isclose(got, want, abs_tol=tol) or (math.isnan(want) and math.isnan(got))
    return got == want


@pytest.fixture(scope="module")
def analysed(chromium, server, http, two_articles):
    """A desktop page that analysed the two seed articles, plus /score's answer to the same body."""
    context, page, watch = open_page(chromium, server, viewport={"width": 1280, "height": 900})
    paste(page, two_articles)
    analyse(page)
    (request,) = watch.posts_to("/score")
    body = request.post_data_json
    api = http.post("/score", json=body)
    assert api.status_code == 200, api.text[:2000]
    yield {"page": page, "watch": watch, "body": body, "api": api.json()}
    context.close()


@pytest.mark.slow
def test_root_opens_the_page_cleanly_and_only_talks_to_its_server(analysed, server):
    page, watch = analysed["page"], analysed["watch"]
    assert page.url == f"{server}/ui"
    assert watch.console_errors == []
    outside = [r.url for r in watch.requests if not r.url.startswith((f"{server}/", "blob:", "data:"))]
    assert outside == []
    assert {r.url.split("?")[0] for r in watch.requests} >= {f"{server}/ui", f"{server}/info", f"{server}/score"}


@pytest.mark.slow
def test_the_page_sends_what_was_pasted(analysed, two_articles):
    assert analysed["body"] == {"articles": two_articles}


@pytest.mark.slow
def test_the_page_reads_its_limits_from_the_server(analysed):
    assert "3 articles, 9,000 characters an article" in analysed["page"].inner_text("#limits-line")


@pytest.mark.slow
def test_every_sentence_is_highlighted_with_its_frame_and_attribution(analysed, schema_info):
    page, api, body = analysed["page"], analysed["api"], analysed["body"]
    shown = page.eval_on_selector_all(
        ".sentence",
        """nodes => nodes.map(n => ({
            article: Number(n.dataset.article), index: Number(n.dataset.index), frame: n.dataset.frame,
            attribution: n.dataset.attribution, tag: n.querySelector('.tag').textContent,
            text: n.querySelector('.s-text').textContent, cls: n.className,
            bg: getComputedStyle(n).backgroundColor, italic: getComputedStyle(n.querySelector('.s-text')).fontStyle,
            line: getComputedStyle(n.querySelector('.s-text')).textDecorationStyle}))""",
    )
    assert len(shown) == len(api["sentences"]) > 20
    legend = {
        el["frame"]: el["tag"]
        for el in page.eval_on_selector_all(
            "#legend .legend-frame",
            "nodes => nodes.map(n => ({frame: n.dataset.frame, tag: n.querySelector('.tag').textContent}))",
        )
    }
    assert list(legend) == [f["name"] for f in schema_info["schema"]["frames"]]  # legend built from the schema
    assert len(set(legend.values())) == len(legend)  # one distinct text label per frame
    backgrounds: dict[str, set[str]] = {}
    for got, want in zip(shown, api["sentences"], strict=True):
        assert (got["article"], got["index"], got["text"]) == (want["article"], want["sentence_index"], want["text"])
        assert got["frame"] == want["frame"] and got["attribution"] == want["attribution"]
        low = want["frame_scores"][want["frame"]] < 0.5
        assert got["tag"] == legend[want["frame"]] + ("?" if low else "")
        assert ("low" in got["cls"].split()) == low
        backgrounds.setdefault(want["frame"], set()).add(got["bg"])
        style = {"authorial": ("normal", "solid"), "attributed": ("italic", None), "distanced": ("normal", "dotted")}
        italic, line = style[want["attribution"]]
        assert got["italic"] == italic, got
        if line:
            assert got["line"] == line, got
    assert all(len(colours) == 1 for colours in backgrounds.values()), backgrounds  # one colour per frame
    assert len({next(iter(c)) for c in backgrounds.values()}) == len(backgrounds)  # distinct across frames
    # The original text between sentences is kept: the rendered article is the pasted article.
    for i, art in enumerate(body["articles"]):
        rebuilt = page.eval_on_selector(
            f'.article-result[data-article="{i}"] .article-text',
            """box => Array.from(box.childNodes).map(n => n.nodeType === 1 && n.classList.contains('sentence')
                ? n.querySelector('.s-text').textContent : n.textContent).join('')""",
        )
        assert rebuilt == art["text"]


@pytest.mark.slow
def test_tooltips_show_every_probability(analysed):
    page, api = analysed["page"], analysed["api"]
    n = len(api["sentences"])
    for k in (0, n // 2, n - 1):
        want = api["sentences"][k]
        node = page.locator(".sentence").nth(k)
        if k == n - 1:
            node.focus()  # keyboard users get the same tooltip
        else:
            node.hover()
        page.wait_for_selector("#tooltip:not([hidden])", timeout=5_000)
        assert node.get_attribute("aria-describedby") == "tooltip"
        for kind, key in (("frame", "frame_scores"), ("attribution", "attribution_scores")):
            rows = page.eval_on_selector_all(
                f'#tooltip .tt-row[data-kind="{kind}"]',
                "rows => rows.map(r => [r.dataset.label, r.querySelector('.pct').textContent])",
            )
            assert [label for label, _ in rows] == list(want[key])
            for label, text in rows:
                assert abs(number(text) - 100 * want[key][label]) <= 0.05 + 1e-9, (label, text, want[key][label])
        page.keyboard.press("Escape")
        assert page.is_hidden("#tooltip")


@pytest.mark.slow
def test_source_panels_show_both_sources_with_the_api_slants(analysed, schema_info):
    page, api = analysed["page"], analysed["api"]
    names = page.eval_on_selector_all(".source-card", "nodes => nodes.map(n => n.dataset.source)")
    assert sorted(names) == sorted(SOURCES) == sorted(api["sources"])
    frames = [f["name"] for f in schema_info["schema"]["frames"]]
    for name in SOURCES:
        prof = api["sources"][name]
        card = f'.source-card[data-source="{name}"]'
        assert page.inner_text(f"{card} .slant-value") == signed(prof["slant"])
        assert page.inner_text(f"{card} .adopted-value") == signed(prof["adopted_slant"])
        assert abs(number(page.inner_text(f"{card} .slant-value")) - prof["slant"]) <= 0.005 + 1e-9
        ci = page.inner_text(f"{card} .slant-row.slant .ci")
        assert ci == f"[{signed(prof['slant_ci'][0])}, {signed(prof['slant_ci'][1])}]"
        rows = page.eval_on_selector_all(
            f"{card} .frame-row", "rows => rows.map(r => [r.dataset.frame, r.querySelector('.mean').textContent])"
        )
        assert [f for f, _ in rows] == frames
        for frame, text in rows:
            assert abs(number(text) - 100 * prof["frame_mean"][frame]) <= 0.5 + 1e-9
        assert f"{prof['n_sentences']} sentences" in page.inner_text(card)
        sides = schema_info["schema"]["sides"]
        assert {sides["positive"], sides["negative"]} == set(
            page.eval_on_selector_all(f"{card} .mix-row", "rows => rows.map(r => r.dataset.side)")
        )
    # side by side on a desktop: the two cards share a row
    boxes = card_boxes(page)
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 1 and boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"]


@pytest.mark.slow
def test_downloads_hold_every_sentence(analysed, schema_info, tmp_path):
    page, api = analysed["page"], analysed["api"]
    with page.expect_download() as info:
        page.click("#download-json")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.suffix == ".json"
    assert close(json.loads(path.read_text(encoding="utf-8")), api)

    with page.expect_download() as info:
        page.click("#download-csv")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.suffix == ".csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert len(rows) == len(api["sentences"])
    frames = [f["name"] for f in schema_info["schema"]["frames"]]
    attributions = [a["name"] for a in schema_info["schema"]["attributions"]]
    assert list(rows[0])[:9] == [
        "source", "article", "title", "sentence_index", "start", "end", "text", "frame", "attribution",
    ]  # fmt: skip
    sources = {a["article"]: a["source"] for a in api["articles"]}
    for row, s in zip(rows, api["sentences"], strict=True):
        assert row["source"] == sources[s["article"]]
        assert (int(row["article"]), int(row["sentence_index"]), int(row["start"]), int(row["end"])) == (
            s["article"], s["sentence_index"], s["start"], s["end"],
        )  # fmt: skip
        assert row["text"].removeprefix("'") == s["text"]  # ' only guards a leading = + - @ against formulas
        assert (row["frame"], row["attribution"]) == (s["frame"], s["attribution"])
        for f in frames:
            assert math.isclose(float(row[f"frame_scores.{f}"]), s["frame_scores"][f], abs_tol=1e-9)
        for a in attributions:
            assert math.isclose(float(row[f"attribution_scores.{a}"]), s["attribution_scores"][a], abs_tol=1e-9)
    assert rows[0]["title"] == TITLE


@pytest.mark.slow
def test_desktop_screenshot(analysed, tmp_path):
    page = analysed["page"]
    page.locator(".sentence").nth(3).hover()
    save_screenshot(page, "desktop.png", tmp_path)


@pytest.mark.slow
def test_phone_width_has_no_horizontal_scrolling(chromium, server, two_articles, tmp_path):
    context, page, watch = open_page(
        chromium, server, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        paste(page, two_articles)
        analyse(page)
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), page.evaluate(
            "[document.documentElement.scrollWidth, innerWidth]"
        )
        # source cards stack in one column
        boxes = card_boxes(page)
        assert boxes[1]["y"] >= boxes[0]["y"] + boxes[0]["height"]
        # a tap shows the probabilities, inside the screen
        sentence = page.locator(".sentence").nth(2)
        sentence.scroll_into_view_if_needed()
        sentence.tap()
        page.wait_for_selector("#tooltip:not([hidden])", timeout=5_000)
        tip = page.locator("#tooltip").bounding_box()
        assert tip["x"] >= 0 and tip["x"] + tip["width"] <= 390
        assert page.locator("#analyse").bounding_box()["width"] >= 300  # a big, easy button
        save_screenshot(page, "phone.png", tmp_path)
        assert watch.console_errors == []
    finally:
        context.close()


@pytest.mark.slow
def test_empty_input_gets_a_message_and_no_request(chromium, server):
    context, page, watch = open_page(chromium, server)
    try:
        page.click("#analyse")
        alert = page.locator("#alert[role=alert]")
        alert.wait_for(state="visible", timeout=5_000)
        assert "Nothing to analyse" in alert.inner_text()
        page.fill("#article-1-text", "Azerbaijan launched what it termed local anti-terrorist measures.")
        page.click("#analyse")  # text but no source
        assert "source is missing" in alert.inner_text()
        assert page.get_attribute("#article-1-source", "aria-invalid") == "true"
        assert watch.posts_to("/score") == []
    finally:
        context.close()


@pytest.mark.slow
def test_loaded_jsonl_over_the_article_limit_is_refused_before_sending(chromium, server, tmp_path):
    lines = [
        json.dumps({"source": f"outlet-{i}", "text": f"Talks number {i} were held in Brussels."}) for i in range(4)
    ]
    lines.insert(2, "{not json")
    lines.append(json.dumps({"source": "outlet-x", "title": "no text here"}))
    lines.append(json.dumps(["an", "array"]))
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    context, page, watch = open_page(chromium, server)
    try:
        page.set_input_files("#file-input", str(feed))
        messages = page.locator("#file-messages")
        messages.wait_for(state="visible", timeout=5_000)
        text = messages.inner_text()
        assert "Loaded 4 articles" in text
        assert "feed.jsonl, line 3: not valid JSON" in text
        assert 'feed.jsonl, line 6: no "text"' in text
        assert "feed.jsonl, line 7: found an array" in text
        assert page.locator(".article-card").count() == 4
        assert page.input_value("#article-4-source") == "outlet-3"
        page.click("#analyse")
        alert = page.locator("#alert")
        alert.wait_for(state="visible", timeout=5_000)
        assert "4 articles; the server accepts at most 3" in alert.inner_text()
        assert watch.posts_to("/score") == []
        page.locator(".article-card .remove").first.click()
        assert page.locator(".article-card").count() == 3
    finally:
        context.close()


@pytest.mark.slow
def test_text_over_the_character_limit_is_refused_before_sending(chromium, server):
    context, page, watch = open_page(chromium, server)
    try:
        page.fill("#article-1-source", "long-wire")
        page.fill("#article-1-text", "The talks in Brussels ended. " * 320)  # 9,280 characters > 9,000
        assert "over" in page.get_attribute(".article-card .counter", "class")
        page.click("#analyse")
        alert = page.locator("#alert")
        alert.wait_for(state="visible", timeout=5_000)
        assert "9,280 characters; the limit is 9,000" in alert.inner_text()
        assert watch.posts_to("/score") == []
    finally:
        context.close()


@pytest.mark.slow
def test_csv_and_txt_files_load_and_a_server_refusal_is_shown(chromium, server, tmp_path):
    """A CSV with quoted commas and line breaks and one broken row; a .txt with binary junk.

    The page does not re-implement the server's control-character rule, so the junk
    reaches the server, which answers 400; the page shows that answer, naming the article.
    """
    table = tmp_path / "wires.csv"
    table.write_text(
        "source,title,text\n"
        'wire-a,"Talks, at last","Envoys met in Brussels.\nThey agreed to meet again, officials said."\n'
        "wire-b,only two fields\n"
        'wire-c,,"Baku said the ""anti-terror"" measures were over."\n',
        encoding="utf-8",
    )
    junk = tmp_path / "scraped-page.txt"
    junk.write_bytes(b"Refugees crossed the Hakari bridge.\x00\x01 Aid convoys waited.")
    context, page, watch = open_page(chromium, server)
    try:
        page.set_input_files("#file-input", [str(table), str(junk)])
        messages = page.locator("#file-messages")
        messages.wait_for(state="visible", timeout=5_000)
        text = messages.inner_text()
        assert "Loaded 3 articles" in text
        assert "wires.csv, line 4: 2 fields, the header has 3" in text
        assert page.input_value("#article-1-title") == "Talks, at last"
        assert (
            page.input_value("#article-1-text") == "Envoys met in Brussels.\nThey agreed to meet again, officials said."
        )
        assert page.input_value("#article-2-text") == 'Baku said the "anti-terror" measures were over.'
        assert page.input_value("#article-3-source") == "scraped-page"  # .txt: source from the file name
        page.click("#analyse")
        alert = page.locator("#alert")
        alert.wait_for(state="visible", timeout=60_000)
        said = alert.inner_text()
        assert "The server refused the request (400)" in said
        assert "Article 3 (scraped-page), text" in said and "control characters" in said
        assert len(watch.posts_to("/score")) == 1
        assert page.is_enabled("#analyse") and page.locator(".article-card").count() == 3  # nothing lost
    finally:
        context.close()


@pytest.mark.slow
def test_an_unreachable_server_is_reported_and_nothing_is_lost(chromium, server):
    context, page, _watch = open_page(chromium, server)
    try:
        page.fill("#article-1-source", "wire-a")
        page.fill("#article-1-text", "The EU urged an immediate ceasefire and a return to talks.")
        page.route("**/score", lambda route: route.abort("connectionrefused"))  # the network drops the call
        page.click("#analyse")
        alert = page.locator("#alert")
        alert.wait_for(state="visible", timeout=30_000)
        assert "Could not reach the server" in alert.inner_text()
        assert page.is_enabled("#analyse")
        assert page.input_value("#article-1-text").startswith("The EU urged")
        page.unroute("**/score")
        analyse(page)  # and it recovers once the network is back
        assert page.is_hidden("#alert")
        assert page.locator(".sentence").count() == 1
    finally:
        context.close()


@pytest.mark.slow
def test_docs_and_health_still_answer_beside_the_page(http):
    assert http.get("/docs").status_code == 200
    assert "swagger" in http.get("/docs").text.lower()
    assert http.get("/docs.json").json()["paths"]["/score"]
    for path in ("/healthz", "/readyz", "/metrics", "/info"):
        assert http.get(path).status_code == 200, path
    r = http.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "ui"


@pytest.mark.slow
def test_bentoml_build_packs_the_page(trained_model, bentoml_home):
    """`bentoml build` with the pyproject config carries serving/ui.py and every page file."""
    import subprocess
    import sys

    env = dict(os.environ, BENTOML_HOME=str(bentoml_home), BENTOML_DO_NOT_TRACK="True")
    result = subprocess.run(
        [sys.executable, "-m", "bentoml", "build", "--output", "tag"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    name, version = result.stdout.strip().splitlines()[-1].removeprefix("__tag__:").split(":")
    src = bentoml_home / "bentos" / name / version / "src" / "serving"
    assert (src / "ui.py").is_file()
    for page_file in ("index.html", "app.js", "app.css"):
        assert (src / "ui" / page_file).read_bytes() == (UI_DIR / page_file).read_bytes()


@pytest.mark.slow
def test_saved_web_pages_load_and_their_extracted_text_is_shown(chromium, server):
    """A .html page (windows-1251, declared by meta charset) and a headline-only page: one analysed, one listed."""
    html_dir = Path(__file__).resolve().parent / "data" / "html"
    context, page, watch = open_page(chromium, server)
    try:
        page.set_input_files("#file-input", [str(html_dir / "cp1251.html"), str(html_dir / "headline_only.html")])
        page.locator("#file-messages").wait_for(state="visible", timeout=5_000)
        assert "Loaded 2 articles" in page.inner_text("#file-messages")
        assert page.get_attribute("#article-1-text", "readonly") is not None
        analyse(page)
        sent = watch.posts_to("/score")[0].post_data_json["articles"]
        assert "html" in sent[0] and "text" not in sent[0]
        assert "Представители Армении и Азербайджана" in sent[0]["html"]  # decoded with the page's charset
        result = page.inner_text("#results")
        assert "Переговоры в Брюсселе продолжатся" in result  # the title the server extracted
        assert "Представители Армении и Азербайджана встретились в Брюсселе" in result  # the extracted text
        assert "was not analysed" in page.inner_text("#warnings")
    finally:
        context.close()
