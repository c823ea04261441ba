"""The audit stream over the API (audit.read): a page of entries behind an opaque cursor, or the
whole filtered stream as JSON Lines (``?format=jsonl``), streamed a batch at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core import signing
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from accounts.api.views.base import no_store
from accounts.audit import (
    SOURCE_KEYS,
    AuditEntry,
    AuditFilters,
    Position,
    audit_batches,
    audit_page,
    audit_types_match,
)
from accounts.errors import AuditCursorInvalid, AuditTypeUnknown
from authz.api.permissions import HasPermission
from identity.api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from identity.api.renderers import JSON_LINES_MEDIA_TYPE, JsonLinesRenderer, json_line
from identity.api.schema import problems
from identity.api.scopes import ADMINISTRATION

# Rows read per source and query while exporting: what the export holds in memory at once.
EXPORT_BATCH = 500
_CURSOR_SALT = "accounts.api.audit.cursor"


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cursor_encode(position: Position) -> str:
    """Signed, so a client cannot hand-craft a position (and a garbled one is told apart)."""
    payload = [_utc(position.occurred_at), position.rank, str(position.key)]
    return signing.dumps(payload, salt=_CURSOR_SALT, compress=False)


def cursor_decode(value: str) -> Position:
    try:
        moment, rank, key = signing.loads(value, salt=_CURSOR_SALT)
        occurred_at = datetime.fromisoformat(moment)
        position = Position(occurred_at, rank, SOURCE_KEYS[rank](key))
    except (signing.BadSignature, TypeError, ValueError, KeyError) as error:
        raise AuditCursorInvalid() from error
    if occurred_at.tzinfo is None:
        raise AuditCursorInvalid()
    return position


def entry_data(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "type": entry.type,
        "occurred_at": _utc(entry.occurred_at),
        "actor": entry.actor,
        "user": entry.user,
        "sid": entry.sid,
        "client_id": entry.client_id,
        "ip": entry.ip,
        "data": entry.data,
    }


class AuditEventOutputSerializer(serializers.Serializer):
    id = serializers.CharField(
        help_text="Unique and stable: the event's UUID, or login-<n>, authz-<n>, "
        "delivery-attempt-<n> for rows of the sign-in, authz and delivery records."
    )
    type = serializers.CharField(help_text="Dotted, e.g. user.created, sign_in.failed.")
    occurred_at = serializers.DateTimeField()
    actor = serializers.UUIDField(allow_null=True, help_text="public_id of who did it.")
    user = serializers.UUIDField(allow_null=True, help_text="public_id of the account concerned.")
    sid = serializers.CharField(allow_null=True)
    client_id = serializers.CharField(allow_null=True)
    ip = serializers.IPAddressField(allow_null=True)
    data = serializers.DictField(help_text="What happened: ids and what changed, never a secret.")


class AuditEventPageOutputSerializer(serializers.Serializer):
    results = AuditEventOutputSerializer(many=True)
    next = serializers.URLField(
        allow_null=True, help_text="The next (older) page; null on the last."
    )


class AuditEventFilterSerializer(serializers.Serializer):
    type = serializers.ListField(
        child=serializers.CharField(max_length=500, allow_blank=True),
        required=False,
        max_length=50,
        help_text="Repeatable or comma-separated; `prefix.*` for every type under a prefix.",
    )
    user = serializers.UUIDField(required=False, help_text="public_id of the account concerned.")
    actor = serializers.UUIDField(required=False, help_text="public_id of who did it.")
    since = serializers.DateTimeField(required=False, help_text="ISO 8601, inclusive.")
    until = serializers.DateTimeField(required=False, help_text="ISO 8601, exclusive.")
    cursor = serializers.CharField(required=False, help_text="From the previous page's next.")
    page_size = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=f"{DEFAULT_PAGE_SIZE} by default, at most {MAX_PAGE_SIZE} (larger is capped).",
    )
    format = serializers.ChoiceField(
        choices=("json", JsonLinesRenderer.format),
        required=False,
        help_text="jsonl: the whole filtered stream, one entry per line (application/x-ndjson).",
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # DRF reads an empty query value of an optional field as absent: here it is a mistake
        # (``?user=`` would widen the answer to everyone).
        blank = [name for name in _SINGLE_VALUED if data.get(name) == ""]
        if blank:
            raise ValidationError({name: ["May not be blank."] for name in blank}, code="blank")
        return super().to_internal_value(data)

    def validate_type(self, values: list[str]) -> frozenset[str]:
        wanted: set[str] = set()
        for name in (part.strip() for value in values for part in value.split(",")):
            found = audit_types_match(name) if name else frozenset()
            if not found:
                raise AuditTypeUnknown()
            wanted |= found
        return frozenset(wanted)

    def validate_cursor(self, value: str) -> Position:
        return cursor_decode(value)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and until <= since:
            raise ValidationError({"until": ["Must be later than since."]}, code="invalid")
        return data


_SINGLE_VALUED = ("user", "actor", "since", "until", "cursor", "page_size", "format")


@no_store
class AuditEventListApi(APIView):
    """The audit stream, newest first: sign-ins, sessions, accounts, roles, applications and
    deliveries."""

    oauth_scopes = ADMINISTRATION
    permission_classes = (HasPermission("audit.read"),)
    renderer_classes = (*api_settings.DEFAULT_RENDERER_CLASSES, JsonLinesRenderer)

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # DRF answers an unknown ?format= with a 404; here it is a bad value of a parameter.
        wanted = request.query_params.get(api_settings.URL_FORMAT_OVERRIDE)
        if wanted and not force and wanted not in {r.format for r in self.get_renderers()}:
            raise ValidationError({"format": ["Choose json or jsonl."]}, code="invalid")
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        operation_id="audit_events_list",
        parameters=[AuditEventFilterSerializer],
        responses={
            (200, "application/json"): AuditEventPageOutputSerializer,
            (200, JSON_LINES_MEDIA_TYPE): OpenApiResponse(
                OpenApiTypes.STR, description="One AuditEventOutput per line (format=jsonl)."
            ),
            **problems(400),
        },
    )
    def get(self, request: Request) -> Response | StreamingHttpResponse:
        query = AuditEventFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        options = dict(query.validated_data)
        filters = AuditFilters(
            **{name: options.get(name) for name in ("user", "actor", "since", "until")},
            types=options.get("type"),
        )
        if request.accepted_renderer.format == JsonLinesRenderer.format:
            return _export(filters, after=options.get("cursor"))
        size = min(options.get("page_size", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
        page = audit_page(filters=filters, after=options.get("cursor"), limit=size)
        next_url = None
        if page.next is not None:
            url = request.build_absolute_uri()
            next_url = replace_query_param(url, "cursor", cursor_encode(page.next))
        return Response({"results": [entry_data(e) for e in page.entries], "next": next_url})


def _export(filters: AuditFilters, *, after: Position | None) -> StreamingHttpResponse:
    lines = (
        b"".join(json_line(entry_data(entry)) for entry in batch)
        for batch in audit_batches(filters=filters, after=after, batch=EXPORT_BATCH)
    )
    response = StreamingHttpResponse(lines, content_type=JSON_LINES_MEDIA_TYPE)
    response["Content-Disposition"] = 'attachment; filename="audit-events.jsonl"'
    return response
