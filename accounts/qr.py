"""QR codes as inline SVG markup: drawn here, so no image request goes to another host."""

from __future__ import annotations

import segno
from django.utils.safestring import SafeString, mark_safe


def qr_svg(data: str, *, title: str = "QR code") -> SafeString:
    """``data`` as an ``<svg>`` element (no XML declaration, no style attribute: the CSP forbids
    inline styles, presentation attributes are allowed). Error correction M, as authenticator
    apps scan it from a screen."""
    code = segno.make(data, error="m", micro=False)
    markup = code.svg_inline(
        scale=5, border=4, dark="#000", light="#fff", title=title, svgclass="qr", lineclass=None
    )
    # segno escapes the title; the rest is numbers and fixed attributes.
    return mark_safe(markup)  # noqa: S308
