"""DRF's content negotiation, with the common request answered without parsing headers."""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation

# Accept values for which DRF's negotiation picks the first renderer with its own media type
# (what a client sends that says nothing, or asks for JSON plainly).
_PLAIN = frozenset({"*/*", "application/json"})


class Negotiation(DefaultContentNegotiation):
    """The same choice as DefaultContentNegotiation (a test compares the two), made in a few
    comparisons when the request has no ``format`` override and a plain Accept header.

    DRF's version builds the request's header map and query dict and parses Accept on every
    request: about a tenth of an authenticated GET that reads one remembered row.
    """

    def select_renderer(
        self, request: Any, renderers: list[Any], format_suffix: str | None = None
    ) -> tuple[Any, str]:
        meta = request._request.META
        accept = meta.get("HTTP_ACCEPT")
        if (
            renderers
            and format_suffix is None
            and (accept is None or accept in _PLAIN)
            and self.settings.URL_FORMAT_OVERRIDE not in meta.get("QUERY_STRING", "")
            and renderers[0].media_type == "application/json"
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
