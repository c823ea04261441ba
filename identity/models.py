"""The tables of the project package: the signing key set every node shares, the outbox
(events, their deliveries and each delivery's tries) and the webhook endpoints it delivers to."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class SigningKeyRecord(models.Model):
    """One RSA key of the set: the newest signs, older ones verify until pruned.

    The private key is stored only encrypted (identity.encryption, under DATA_ENCRYPTION_KEY);
    ``kid`` is its RFC 7638 thumbprint, checked against the key whenever it is loaded.
    """

    kid = models.CharField(max_length=64, unique=True)
    private_key_encrypted = models.TextField()
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "identity_signing_key"
        ordering = ("-created_at", "-kid")
        verbose_name = "signing key"

    def __str__(self) -> str:
        return self.kid


class Event(models.Model):
    """Something that happened, written in the transaction of the change (the outbox, and the
    audit stream). ``id`` is the stable id receivers drop duplicates on: every try of every
    delivery of the event carries it. ``data`` holds ids and what changed, never a secret."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64)
    occurred_at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict, blank=True)
    actor_public_id = models.UUIDField(null=True, blank=True)
    subject_public_id = models.UUIDField(null=True, blank=True)
    sid = models.CharField(max_length=64, blank=True, default="")
    client_id = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        db_table = "identity_event"
        ordering = ("-occurred_at",)
        indexes = (
            models.Index(fields=("type", "-occurred_at"), name="identity_event_type_time"),
            # The audit stream, newest first, and its filters by user and by actor.
            models.Index(fields=("-occurred_at", "-id"), name="identity_event_time"),
            models.Index(
                fields=("subject_public_id", "-occurred_at"), name="identity_event_subject_time"
            ),
            models.Index(
                fields=("actor_public_id", "-occurred_at"), name="identity_event_actor_time"
            ),
        )

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class Delivery(models.Model):
    """One event to one receiver: which sender (``kind``) builds the request, for whom
    (``target``: an endpoint id, a client id), and how far the tries got. While a try runs,
    ``next_attempt_at`` is its lease: past it, a try lost with its worker is run again."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        GAVE_UP = "gave_up", "gave up"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=32)
    target = models.CharField(max_length=100)
    url = models.URLField(max_length=2000)
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    last_error = models.CharField(max_length=200, blank=True, default="")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "identity_delivery"
        ordering = ("-created_at",)
        verbose_name_plural = "deliveries"
        indexes = (
            # The sweep: pending deliveries whose time (or lease) has passed.
            models.Index(
                fields=("next_attempt_at",),
                name="identity_delivery_due",
                condition=models.Q(status="pending"),
            ),
        )

    def __str__(self) -> str:
        return f"{self.kind} to {self.target} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try of a delivery, for the admin: when, the receiver's status code or the error.
    A row per try (not only the last error on the delivery) because a receiver that was down,
    then slow, then answered 503 is diagnosed from the sequence; it is written off the request
    path, by the worker, so it costs the user nothing."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        db_table = "identity_delivery_attempt"
        ordering = ("delivery", "number")
        # The audit stream reads tries newest first (accounts.audit).
        indexes = (models.Index(fields=("-started_at", "-id"), name="identity_delivery_try_time"),)
        constraints = (
            models.UniqueConstraint(
                fields=("delivery", "number"), name="identity_delivery_attempt_unique"
            ),
        )

    def __str__(self) -> str:
        return f"try {self.number}"


class WebhookEndpoint(models.Model):
    """A receiver an administrator registered for some event types (Standard Webhooks).

    The signing secret is the portal's own (``whsec_`` + base64 of random bytes), shown once
    when made or rotated. HMAC needs it in clear, so it is stored encrypted (identity.encryption,
    like the signing keys), never hashed. After a rotation the previous secret also signs until
    ``previous_secret_expires_at``, so a receiver can switch without losing an event."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    # Catalogue names (identity.event_types), or ["*"]: every type but those off by default.
    event_types = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    secret_encrypted = models.TextField(editable=False)
    previous_secret_encrypted = models.TextField(blank=True, default="", editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "identity_webhook_endpoint"
        ordering = ("-created_at", "id")
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.description or self.url
