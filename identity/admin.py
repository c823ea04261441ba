"""Admin pieces shared by the apps."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from identity.events import delivery_retry_now
from identity.models import Delivery, DeliveryAttempt, SigningKeyRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    """Security records (history, sessions, audit): visible, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CreatedByServiceAdmin(admin.ModelAdmin):
    """An add page whose row a service makes: the object the admin goes on with (its log
    entry, its message, the redirect to its change page) is the service's own result.

    Django's ``save_form`` returns the object the rest of the add view uses, so the service is
    called there, after the form validated; ``save_model`` then has nothing left to save on an
    add. The add page must have no inlines (``get_inlines``): they are validated after
    ``save_form``, and an invalid one would re-render the page over a row already made."""

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        raise NotImplementedError

    def save_form(self, request: HttpRequest, form: forms.ModelForm, change: bool) -> Any:
        if change:
            return super().save_form(request, form, change)
        form.instance = self.service_create(request, form)
        return form.instance

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """An add was saved by ``service_create``; a change says here which service saves it."""
        if change:
            raise NotImplementedError

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # form.save_m2m would write the many-to-many fields past the service.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return super().get_inlines(request, obj) if obj is not None else []


@admin.register(SigningKeyRecord)
class SigningKeyAdmin(ReadOnlyAdmin):
    """Which keys sign and verify; never the key material, not even encrypted."""

    list_display = ("kid", "created_at", "signs")
    fields = ("kid", "created_at", "updated_at")
    ordering = ("-created_at", "-kid")

    @admin.display(boolean=True, description="signs new tokens")
    def signs(self, record: SigningKeyRecord) -> bool:
        newest = SigningKeyRecord.objects.order_by("-created_at", "-kid").first()
        return newest is not None and newest.pk == record.pk


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("number", "started_at", "finished_at", "status_code", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """The outbox's deliveries and each one's tries, read-only; "Retry now" queues one more
    try (for staff who may change deliveries), through the same service as the sweep."""

    list_display = (
        "created_at",
        "kind",
        "target",
        "url_host",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
    )
    list_filter = ("status", "kind", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=target", "=event__id", "url")
    list_select_related = ("event",)
    fields = (
        "event",
        "kind",
        "target",
        "url",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "created_at",
        "finished_at",
    )
    inlines = (DeliveryAttemptInline,)
    actions = ("retry_now",)

    @admin.display(description="URL host")
    def url_host(self, delivery: Delivery) -> str:
        return urlsplit(delivery.url).hostname or ""

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("identity.change_delivery")

    @admin.action(description="Retry now", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        retried = 0
        for delivery in queryset:
            if delivery_retry_now(delivery=delivery):
                self.log_change(request, delivery, "Retried now.")
                retried += 1
        self.message_user(request, f"{retried} deliveries queued for a try now.", messages.SUCCESS)


# Registered here, where the admin looks for this app's models.
from identity.webhooks import admin as webhooks_admin  # noqa: E402, F401
