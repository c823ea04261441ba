"""Webhook endpoints in the Django admin: the event types as checkboxes from the catalogue, the
secret shown once on its own page (after add and after "Rotate secret"), never stored in a
message, a log entry or a change page; the endpoint's recent deliveries."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from identity.admin import CreatedByServiceAdmin
from identity.errors import ApplicationError
from identity.event_types import EVENT_TYPES, OFF_BY_DEFAULT
from identity.models import WebhookEndpoint
from identity.webhooks import selectors, services

_EVERY = f"Every type, except those off by default ({', '.join(sorted(OFF_BY_DEFAULT))})"
EVENT_TYPE_CHOICES = [
    (services.EVERY_TYPE, _EVERY),
    *((name, f"{name}: {description}") for name, description in EVENT_TYPES.items()),
]


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        max_length=2000,
        assume_scheme="https",
        label="URL",
        widget=forms.URLInput(attrs={"class": "vURLField"}),
    )
    event_types = forms.MultipleChoiceField(
        choices=EVENT_TYPE_CHOICES, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "description", "event_types", "is_active")

    def clean_url(self) -> str:
        return _checked(services.webhook_url_check, self.cleaned_data["url"])

    def clean_event_types(self) -> list[str]:
        return _checked(services.event_types_check, self.cleaned_data["event_types"])


def _checked(check: Any, value: Any) -> Any:
    try:
        return check(value)
    except ApplicationError as error:
        raise forms.ValidationError(error.message, code=error.code) from error


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(CreatedByServiceAdmin):
    form = WebhookEndpointForm

    class Media:
        css = {"all": ["css/admin-webhooks.css"]}

    list_display = ("__str__", "url", "subscribed_to", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "description")
    readonly_fields = (
        "endpoint_id",
        "signing_secret",
        "recent_deliveries",
        "created_by",
        "created_at",
    )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["url", "description", "event_types", "is_active"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    @admin.display(description="ID")
    def endpoint_id(self, endpoint: WebhookEndpoint) -> str:
        return str(endpoint.pk)

    @admin.display(description="event types")
    def subscribed_to(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.event_types)

    @admin.display(description="signing secret")
    def signing_secret(self, endpoint: WebhookEndpoint) -> str:
        """Never the secret: when it changed, and the way to a new one."""
        note = "Shown once, when the endpoint was added or its secret last rotated."
        until = endpoint.previous_secret_expires_at
        if until and until > timezone.now():
            note += f" The previous secret also signs until {until:%Y-%m-%d %H:%M} UTC."
        rotate = reverse("admin:identity_webhookendpoint_rotate", args=[endpoint.pk])
        return format_html('{}<p><a class="button" href="{}">Rotate secret…</a></p>', note, rotate)

    @admin.display(description="recent deliveries")
    def recent_deliveries(self, endpoint: WebhookEndpoint) -> str:
        deliveries = selectors.webhook_endpoint_deliveries(endpoint=endpoint)
        every = reverse("admin:identity_delivery_changelist") + f"?target={endpoint.pk}"
        rows = format_html_join(
            "",
            '<li><a href="{}">{} {}</a>: {}, {} tries {}</li>',
            (
                (
                    reverse("admin:identity_delivery_change", args=[d.pk]),
                    f"{d.created_at:%Y-%m-%d %H:%M:%S}",
                    d.event.type,
                    d.get_status_display(),
                    d.attempts,
                    f"({d.last_error})" if d.last_error else "",
                )
                for d in deliveries
            ),
        )
        listing = format_html("<ul>{}</ul>", rows) if deliveries else "None yet."
        return format_html(
            '{}<p><a href="{}">Every delivery to this endpoint</a></p>', listing, every
        )

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> WebhookEndpoint:
        data = form.cleaned_data
        endpoint, secret = services.webhook_endpoint_create(
            url=data["url"],
            event_types=data["event_types"],
            description=data["description"],
            is_active=data["is_active"],
            created_by=request.user,
        )
        request._webhook_secret = secret  # for response_add only: never stored
        return endpoint

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            data = {name: form.cleaned_data[name] for name in form.changed_data}
            services.webhook_endpoint_update(endpoint=obj, data=data)

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        services.webhook_endpoint_delete(endpoint=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            services.webhook_endpoint_delete(endpoint=endpoint)

    def response_add(
        self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue: Any = None
    ) -> HttpResponse:
        secret = getattr(request, "_webhook_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        return self._secret_page(request, obj, secret, title="Webhook endpoint added")

    def get_urls(self) -> list[Any]:
        own = [
            path(
                "<path:object_id>/rotate-secret/",
                self.admin_site.admin_view(self.rotate_view),
                name="identity_webhookendpoint_rotate",
            )
        ]
        return own + super().get_urls()

    def rotate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET asks to confirm; POST (CSRF-checked) rotates and shows the new secret once."""
        endpoint = selectors.webhook_endpoint_get(endpoint_id=object_id)
        if endpoint is None:
            raise Http404
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        if request.method == "POST":
            secret = services.webhook_endpoint_secret_rotate(endpoint=endpoint)
            self.log_change(request, endpoint, "Rotated the signing secret.")
            return self._secret_page(request, endpoint, secret, title="Signing secret rotated")
        context = {**self._context(request, endpoint), "title": "Rotate the signing secret"}
        return TemplateResponse(
            request, "admin/identity/webhookendpoint/rotate_confirm.html", context
        )

    def _secret_page(
        self, request: HttpRequest, endpoint: WebhookEndpoint, secret: str, *, title: str
    ) -> HttpResponse:
        context = {**self._context(request, endpoint), "title": title, "secret": secret}
        response = TemplateResponse(request, "admin/identity/webhookendpoint/secret.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def _context(self, request: HttpRequest, endpoint: WebhookEndpoint) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": endpoint,
            "change_url": reverse("admin:identity_webhookendpoint_change", args=[endpoint.pk]),
            "grace_hours": int(services.ROTATION_GRACE.total_seconds() // 3600),
        }
