"""Renderers beyond JSON: JSON Lines for exports (one JSON document per line)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from rest_framework.renderers import BaseRenderer

JSON_LINES_MEDIA_TYPE = "application/x-ndjson"


def json_line(item: Any) -> bytes:
    """One item as a line of JSON Lines: compact, no raw newline inside (JSON escapes them)."""
    return json.dumps(item, cls=DjangoJSONEncoder, separators=(",", ":")).encode() + b"\n"


class JsonLinesRenderer(BaseRenderer):
    """Selected by ``?format=jsonl`` (DRF's URL_FORMAT_OVERRIDE) or ``Accept:
    application/x-ndjson``. A view that exports streams the lines itself (json_line, in a
    StreamingHttpResponse); this renders a list handed to a plain Response the same way."""

    media_type = JSON_LINES_MEDIA_TYPE
    format = "jsonl"
    charset = None

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        items: Iterable[Any] = data if isinstance(data, list) else [data]
        return b"".join(json_line(item) for item in items)
