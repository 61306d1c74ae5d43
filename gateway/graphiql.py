"""The GraphiQL page, served whole by the gateway: no file comes from outside the network.

GraphiQL, React, ReactDOM and the explorer plugin ship in the package
(``gateway/static/graphiql/``, pinned by npm package, version and sha256 in its
``manifest.json``; ``scripts/refresh_graphiql.py`` refreshes them). The page names each file
as ``/graphiql/static/<file>?v=<digest>``: a file whose bytes change gets a new address, so
every file can be cached for a year. A Content-Security-Policy lets the page load nothing
but these files and talk to nothing but the gateway.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

STATIC_PREFIX = "/graphiql/static/"

#: Only this origin's scripts, styles and connections. GraphiQL's stylesheet embeds its
#: fonts and icons as data: URLs (hence data: for fonts and images); its scripts need no
#: eval, and its element styles are set through the DOM, which style-src does not govern.
#: The one thing refused (seen in Chromium): the <style> element GraphiQL's dialogs add to
#: lock the page's scrolling, which this page never does (its body does not scroll).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "font-src 'self' data:",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}

#: What the headers editor shows when a key is required: a placeholder, never a key.
KEY_HINT = '{"X-Api-Key": "<your key>"}'


@dataclass(frozen=True)
class Asset:
    """One file the page loads."""

    name: str
    body: bytes
    media_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def url(self) -> str:
        return f"{STATIC_PREFIX}{self.name}?v={self.sha256[:16]}"

    @property
    def integrity(self) -> str:
        """Subresource integrity: the browser refuses the file if its bytes differ."""
        return "sha384-" + base64.b64encode(hashlib.sha384(self.body).digest()).decode()


#: The gateway's own files beside the pinned ones (the page's rules and its start script).
_OWN_FILES = ("page.css", "start.js")


@cache
def assets() -> dict[str, Asset]:
    """Every file the page loads, by file name: the manifest's and the gateway's own."""
    folder = resources.files("gateway") / "static" / "graphiql"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    names = [entry["file"] for entry in manifest["files"]] + list(_OWN_FILES)
    found = {}
    for name in names:
        suffix = name[name.rindex(".") :]
        found[name] = Asset(name, (folder / name).read_bytes(), _MEDIA_TYPES[suffix])
    return found


@cache
def _template() -> Template:
    folder = resources.files("gateway") / "static" / "graphiql"
    return Template((folder / "page.html").read_text(encoding="utf-8"))


@cache
def page_html(require_auth: bool) -> str:
    """The page; when callers need a key, the headers editor starts with a placeholder."""
    values = {"default_headers": html.escape(KEY_HINT if require_auth else "")}
    for asset in assets().values():
        slot = asset.name.replace(".", "_").replace("-", "_")
        values[slot] = html.escape(asset.url)
        values[f"{slot}_sri"] = asset.integrity
    return _template().substitute(values)


def page_response(require_auth: bool) -> HTMLResponse:
    """The GraphiQL page, never cached: it names the current files."""
    headers = {**_SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return HTMLResponse(page_html(require_auth), headers=headers)


async def _static(request: Request) -> Response:
    asset = assets().get(request.path_params["name"])
    if asset is None:
        return Response("not found", 404, media_type="text/plain", headers=_SECURITY_HEADERS)
    headers = {**_SECURITY_HEADERS, "Cache-Control": "public, max-age=31536000, immutable"}
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def static_route() -> Route:
    """``GET /graphiql/static/<file>``: the page's files (any other name is a 404)."""
    return Route(STATIC_PREFIX + "{name}", _static, methods=["GET"])
