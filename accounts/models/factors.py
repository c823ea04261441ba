"""Second factors (authenticator app, recovery codes, passkeys) and sign-ins waiting for one.

Written only by accounts.services.mfa. No secret is stored in the clear: the TOTP seed is
encrypted (identity.encryption, DATA_ENCRYPTION_KEY), recovery codes and pending-sign-in tokens
are stored as digests, and a passkey is a public key.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class AuthMethod(models.TextChoices):
    """How a sign-in was proven, as stored in ``amr`` (space-separated, in this order).

    ``pwd``, ``otp``, ``hwk`` and ``swk`` are RFC 8176 values; ``rc`` (a recovery code) is the
    portal's own, so the history can tell it from the app. accounts.services.mfa.amr maps the
    stored values to the RFC 8176 ``amr`` claim and to an ``acr``.
    """

    PASSWORD = "pwd", "Password"
    TOTP = "otp", "Authenticator app"
    RECOVERY_CODE = "rc", "Recovery code"
    # A passkey (always with user verification): device-bound (hwk) or synced (swk).
    HARDWARE_KEY = "hwk", "Passkey"
    SOFTWARE_KEY = "swk", "Passkey"


class TotpDevice(models.Model):
    """A user's authenticator app (RFC 6238): one per user, live once a code confirmed it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    # Fernet token of the base32 seed (identity.encryption); re-encrypted under the current
    # key when it was read with a fallback key.
    secret_encrypted = models.TextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # RFC 6238 time step (T) of the last code accepted: a code at or before it is a replay.
    last_used_step = models.BigIntegerField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Authenticator app of {self.user_id}"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class RecoveryCode(models.Model):
    """One single-use recovery code of a user's current set; only its password hash is kept
    (ASVS 5.0 V6.5.2: a lookup secret under 112 bits is stored like a password)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=128)  # Django's make_password (Argon2id), salted
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Recovery code of {self.user_id}"


class Passkey(models.Model):
    """A WebAuthn credential (a passkey) registered by a user, discoverable, with user
    verification. The user handle it was created with is the user's ``public_id`` bytes."""

    # db_index=False: the unique (user, lower(name)) constraint serves lookups by user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys", db_index=False
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    # base64url (no padding) of the credential id: up to 1023 bytes (WebAuthn L3 §5.1.2).
    credential_id = models.CharField(max_length=1400, unique=True)
    public_key = models.BinaryField()  # COSE_Key
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.CharField(max_length=36, blank=True)
    backup_eligible = models.BooleanField(default=False)
    backed_up = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                "user", Lower("name"), name="accounts_passkey_user_name_ci_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def amr(self) -> str:
        """Synced passkeys are software keys (swk); device-bound ones hardware keys (hwk)."""
        return AuthMethod.SOFTWARE_KEY if self.backup_eligible else AuthMethod.HARDWARE_KEY


class PendingSignIn(models.Model):
    """A sign-in that has proven some factors but not all: no UserSession, no success event.

    The browser keeps its token in the Django session; the API hands it out as ``mfa_token``.
    Only the SHA-256 of the token is stored (256 random bits). It dies when used, after
    ``MFA_MAX_ATTEMPTS`` wrong codes, or at ``expires_at`` (``MFA_PENDING_SECONDS``).
    """

    class Purpose(models.TextChoices):
        VERIFY = "verify", "Prove a second factor"
        ENROL = "enrol", "Enrol a second factor before signing in"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token_hash = models.CharField(max_length=64, unique=True)
    # db_index=False: pending steps are looked up by token; deletion cascades by user rarely.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="pending_sign_ins",
        db_index=False,
    )
    channel = models.CharField(max_length=8)
    purpose = models.CharField(max_length=8, choices=Purpose.choices, default=Purpose.VERIFY)
    # What the login form was given (for lockout and history), and what is proven so far.
    identifier = models.CharField(max_length=254, blank=True)
    amr = models.CharField(max_length=64, blank=True)
    failures = models.PositiveSmallIntegerField(default=0)
    # The WebAuthn challenge last issued for this step (base64url), single use.
    webauthn_challenge = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="accounts_pending_expires")]

    def __str__(self) -> str:
        return f"Pending sign-in of {self.user_id}"


class PasskeyChallenge(models.Model):
    """A WebAuthn challenge the portal issued and has not seen answered: single use, short-lived.

    Kept in the database, not the cache, so that a Redis outage does not stop passkey sign-ins.
    ``user`` is null for a discoverable sign-in (no account known until the passkey answers).
    Only the SHA-256 of the challenge is stored; answering deletes the row (compare-and-swap).
    """

    class Purpose(models.TextChoices):
        REGISTER = "register", "Add a passkey"
        SIGN_IN = "sign_in", "Sign in with a passkey alone"
        FACTOR = "factor", "Prove a factor (second step, re-authentication)"

    challenge_hash = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=8, choices=Purpose.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        null=True,
        blank=True,
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="accounts_passkey_chal_expires")]

    def __str__(self) -> str:
        return f"{self.purpose} challenge"
