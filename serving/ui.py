"""The web page: read an article's framing by eye, served by the same BentoML service.

Why plain files and a few Starlette routes: the page is three static files (HTML, JS, CSS)
with no build step and no third-party assets, so it runs offline and ``bentoml build``
packs it as ordinary source files. Everything the page needs from the model (frame and
attribution names, sides, limits) comes from the running service, so a model retrained
with other labels needs no change here.

Routes (added to the service's mounted Starlette app in ``serving/service.py``):

* ``GET /``               -> 307 to ``ui`` (BentoML's own Swagger page moves to ``/docs``)
* ``GET /ui``             -> the page (``no-cache``: always revalidated, so a new release shows at once)
* ``GET /ui/static/NAME`` -> ``app.js`` / ``app.css``; with ``?v=<content hash>`` (how the page links
  them) they are cacheable for a year, otherwise revalidated by ETag
* ``GET /docs``           -> BentoML's interactive API page (Swagger UI), which used to sit at ``/``

URLs in the page are relative (``ui/static/...``, ``score``, ``info``), so it also works
behind a reverse proxy that serves the service under a path prefix.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from serving.schemas import MAX_ARTICLES, MAX_BODY_BYTES, Article

UI_DIR = Path(__file__).with_name("ui")
ASSET_TYPES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}

# The page loads nothing from elsewhere and runs no inline script: a strict policy turns an
# XSS slip or a stray external URL into a blocked request instead of a leak.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


@dataclass(frozen=True)
class Asset:
    body: bytes
    etag: str
    content_type: str


@functools.cache
def _assets() -> dict[str, Asset]:
    """The static files, read once per worker (they change only with a new release)."""
    out = {}
    for name, content_type in ASSET_TYPES.items():
        body = (UI_DIR / name).read_bytes()
        out[name] = Asset(body, f'"{hashlib.sha256(body).hexdigest()[:16]}"', content_type)
    return out


def asset_version() -> str:
    """One hash over all assets: the ``?v=`` the page links them with (cache busting)."""
    digest = hashlib.sha256("".join(a.etag for a in _assets().values()).encode())
    return digest.hexdigest()[:12]


def _max_length(field: str) -> int | None:
    """The ``maxLength`` the request model enforces on an article field (read, not repeated)."""
    prop = Article.model_json_schema()["properties"][field]
    for option in [prop, *prop.get("anyOf", [])]:
        if "maxLength" in option:
            return int(option["maxLength"])
    return None


def page_config() -> dict[str, object]:
    """What the page needs before its first request: every limit the server enforces.

    ``/info`` reports some limits; the per-field character limits are added here so the
    page can check them before sending (the server enforces them anyway).
    """
    return {
        "limits": {
            "max_articles": MAX_ARTICLES,
            "max_text_chars": _max_length("text"),
            "max_source_chars": _max_length("source"),
            "max_title_chars": _max_length("title"),
            "max_url_chars": _max_length("url"),
            "max_body_bytes": MAX_BODY_BYTES,
        },
        "asset_version": asset_version(),
    }


@functools.cache
def _page() -> bytes:
    template = (UI_DIR / "index.html").read_text(encoding="utf-8")
    # JSON inside <script type="application/json">: escape "<" so no text can close the tag.
    config = json.dumps(page_config()).replace("<", "\\u003c")
    return template.replace("{{CONFIG}}", config).replace("{{VERSION}}", asset_version()).encode("utf-8")


async def root(_request: Request) -> Response:
    """``/`` -> the page (relative, so a path prefix in front of the service is kept)."""
    return RedirectResponse("ui", status_code=307)


async def page(request: Request) -> Response:
    if request.url.path.endswith("/"):  # /ui/ -> /ui, so the page's relative URLs resolve one way
        return RedirectResponse("../ui", status_code=307)
    return Response(
        _page(), media_type="text/html; charset=utf-8", headers={"Cache-Control": REVALIDATE, **SECURITY_HEADERS}
    )


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    asset = _assets().get(name)
    if asset is None:
        return JSONResponse({"error": f"no such asset {name!r}", "expected": sorted(ASSET_TYPES)}, status_code=404)
    cache = IMMUTABLE if request.query_params.get("v") == asset_version() else REVALIDATE
    headers = {"ETag": asset.etag, "Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    if asset.etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.content_type, headers=headers)


async def docs(_request: Request) -> Response:
    """BentoML's own interactive API page, moved from ``/`` (which now opens the web page)."""
    import _bentoml_impl.server as bentoml_server
    from bentoml._internal.configuration.containers import BentoMLContainer

    name = "main-ui.html" if BentoMLContainer.new_index else "main-openapi.html"
    return FileResponse(Path(bentoml_server.__file__).parent / name, media_type="text/html")


def ui_routes() -> list[BaseRoute]:
    """The routes to add to the service's mounted Starlette app."""
    return [
        Route("/", root, methods=["GET"]),
        Route("/ui", page, methods=["GET"]),
        Route("/ui/", page, methods=["GET"]),
        Route("/ui/static/{name}", static, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
    ]
