"""Webhook endpoints over the API (permission webhooks.write for every method): the same
services as the admin (identity.webhooks). The signing secret is in the create and rotate
answers only, once."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from authz.api.permissions import HasPermission
from identity.api import serializers as strict
from identity.api.lookups import get_or_404
from identity.api.pagination import PageNumberPagination
from identity.api.schema import problems
from identity.api.scopes import ADMINISTRATION
from identity.api.serializers import OutputSerializer, validated
from identity.models import WebhookEndpoint
from identity.webhooks import selectors, services
from identity.webhooks.errors import WebhookEndpointNotFound

WEBHOOKS_PERMISSION = HasPermission("webhooks.write")
ENDPOINT_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)
EVENT_TYPES_HELP = (
    'Event type names from the catalogue (docs/events.md), or "*" for every type except '
    "those off by default (sign_in.failed), which must be named."
)


class WebhookOutputSerializer(OutputSerializer):
    id = serializers.UUIDField()
    url = serializers.CharField()
    description = serializers.CharField()
    event_types = serializers.ListField(child=serializers.CharField())
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookWithSecretOutputSerializer(WebhookOutputSerializer):
    secret = serializers.CharField(
        help_text="The signing secret (whsec_...): shown in this answer only, never again."
    )


class WebhookInputSerializer(strict.InputSerializer):
    url = strict.CharField(max_length=2000)
    description = strict.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=strict.CharField(max_length=64), max_length=100, help_text=EVENT_TYPES_HELP
    )
    is_active = strict.BooleanField(required=False)


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> dict[str, Any]:
    return WebhookWithSecretOutputSerializer({**_fields(endpoint), "secret": secret}).data


def _fields(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {name: getattr(endpoint, name) for name in WebhookOutputSerializer._declared_fields}


def _endpoint(endpoint_id: Any) -> WebhookEndpoint:
    found = selectors.webhook_endpoint_get(endpoint_id=endpoint_id)
    return get_or_404(found, error=WebhookEndpointNotFound)


@extend_schema_view(get=extend_schema(operation_id="webhooks_list"))
class WebhookListApi(ListAPIView):
    """GET lists webhook endpoints; POST registers one and answers its secret, once."""

    oauth_scopes = ADMINISTRATION
    permission_classes = (WEBHOOKS_PERMISSION,)
    pagination_class = PageNumberPagination
    serializer_class = WebhookOutputSerializer

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        return selectors.webhook_endpoint_list()

    @extend_schema(
        operation_id="webhooks_create",
        request=WebhookInputSerializer,
        responses={201: WebhookWithSecretOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = validated(WebhookInputSerializer, request)
        endpoint, secret = services.webhook_endpoint_create(**data, created_by=request.user)
        return Response(_with_secret(endpoint, secret), status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    oauth_scopes = ADMINISTRATION
    permission_classes = (WEBHOOKS_PERMISSION,)

    @extend_schema(
        operation_id="webhooks_retrieve",
        parameters=[ENDPOINT_ID],
        responses={200: WebhookOutputSerializer, **problems(404)},
    )
    def get(self, request: Request, id: Any) -> Response:
        return Response(WebhookOutputSerializer(_endpoint(id)).data)

    @extend_schema(
        operation_id="webhooks_update",
        parameters=[ENDPOINT_ID],
        request=WebhookInputSerializer(partial=True),
        responses={200: WebhookOutputSerializer, **problems(404)},
    )
    def patch(self, request: Request, id: Any) -> Response:
        endpoint = _endpoint(id)
        data = validated(WebhookInputSerializer, request, partial=True)
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, data=data)
        return Response(WebhookOutputSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhooks_delete",
        parameters=[ENDPOINT_ID],
        request=None,
        responses={204: None, **problems(404)},
    )
    def delete(self, request: Request, id: Any) -> Response:
        services.webhook_endpoint_delete(endpoint=_endpoint(id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookSecretRotateApi(APIView):
    """A new signing secret, answered once; the previous one keeps signing for 24 hours beside
    it, so the receiver can switch without losing an event."""

    oauth_scopes = ADMINISTRATION
    permission_classes = (WEBHOOKS_PERMISSION,)

    @extend_schema(
        operation_id="webhooks_rotate_secret",
        parameters=[ENDPOINT_ID],
        request=None,
        responses={200: WebhookWithSecretOutputSerializer, **problems(404)},
    )
    def post(self, request: Request, id: Any) -> Response:
        endpoint = _endpoint(id)
        secret = services.webhook_endpoint_secret_rotate(endpoint=endpoint)
        return Response(_with_secret(endpoint, secret))
