"""The viewer page: one HTML file with inline CSS and JavaScript and its data embedded.

The data is JSON, gzip-compressed and base64-encoded inside a ``<script type="application/json">``
tag; the page decompresses it with the browser's own ``DecompressionStream``. Nothing is loaded
from the network.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
from importlib import resources
from typing import Any

DATA_ELEMENT_ID = "eicore-data"


def _asset(name: str) -> str:
    return resources.files("eicore.viewer").joinpath("assets", name).read_text(encoding="utf-8")


def encode_payload(payload: dict[str, Any]) -> str:
    """The payload as base64 of gzip-compressed compact JSON (level 6: 1% larger than level 9
    in 60% of its time)."""
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")


def decode_payload(page: str) -> dict[str, Any]:
    """The data embedded in a page :func:`render_page` wrote (to read a report.html back)."""
    start = page.index(f'id="{DATA_ELEMENT_ID}">') + len(f'id="{DATA_ELEMENT_ID}">')
    encoded = page[start : page.index("</script>", start)]
    data: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(encoded)))
    return data


def render_page(payload: dict[str, Any], title: str) -> str:
    """The complete HTML document showing ``payload``."""
    page = _asset("viewer.html")
    for key, value in (
        ("{{TITLE}}", html.escape(title)),
        ("{{CSS}}", _asset("viewer.css")),
        ("{{JS}}", _asset("viewer.js")),
        ("{{DATA_ID}}", DATA_ELEMENT_ID),
        ("{{DATA}}", encode_payload(payload)),
    ):
        page = page.replace(key, value)
    return page
