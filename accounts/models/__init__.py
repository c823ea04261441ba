"""Accounts: users, profiles, email-domain rules, one-time secrets, sessions, login history and
second factors (accounts.models.factors)."""

from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Value
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils import timezone

# No "@" in usernames, so that a login containing "@" is always an email address.
username_validator = RegexValidator(
    r"^[\w.-]+\Z",
    "Use letters, digits and . - _ only.",
    code="invalid_username",
)


class UserType(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    PARTNER = "partner", "Partner"
    EMPLOYEE = "employee", "Employee"
    ADMIN = "admin", "Admin"


def ci_equals(field: str, value: str | None) -> Exact:
    """lower(field) = lower(value): what the case-insensitive unique indexes cover. Django's
    iexact compiles to UPPER() on Postgres, which no index serves: a scan of every user."""
    return Exact(Lower(field), Lower(Value(value)))


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(ci_equals("username", username))

    def create_user(
        self, username: str, email: str, password: str | None = None, **extra: object
    ) -> User:
        user = self.model(
            username=username.strip(), email=self.normalize_email(email).lower(), **extra
        )
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        Profile.objects.create(user=user)
        return user

    def create_superuser(
        self, username: str, email: str, password: str | None = None, **extra: object
    ) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("user_type", UserType.ADMIN)
        extra.setdefault("email_verified_at", timezone.now())
        return self.create_user(username, email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    username = models.CharField(
        max_length=150,
        validators=[username_validator],
        help_text="Letters, digits and . - _ only; unique regardless of case.",
    )
    email = models.EmailField(max_length=254, help_text="Unique regardless of case.")
    user_type = models.CharField(max_length=16, choices=UserType.choices, default=UserType.CUSTOMER)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    must_change_password = models.BooleanField(
        default=False, help_text="The user must choose a new password at the next sign-in."
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May sign in to the admin site.")
    is_service_account = models.BooleanField(
        default=False,
        editable=False,
        help_text="An OAuth application's own account (client credentials); cannot sign in.",
    )
    date_joined = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped by authz in the transaction of every change to what the user holds: cached
    # permission answers are keyed by it, so a cache restored from an older snapshot cannot
    # bring a revoked grant back. On the row every request loads anyway: free to read.
    authz_version = models.PositiveBigIntegerField(default=0, editable=False)

    # Kept by accounts.services.mfa in the transaction that adds or removes a factor: whether
    # a password alone no longer signs in, read from the row every sign-in loads anyway.
    # New columns carry database defaults, so the previous release's INSERTs still work
    # while nodes roll over to this one.
    mfa_enabled = models.BooleanField(default=False, db_default=False, editable=False)

    # Sign-ins are recorded as UserSession and LoginEvent rows; a last_login column would
    # cost a write on every sign-in and say less.
    last_login = None

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def get_full_name(self) -> str:
        profile = getattr(self, "profile", None)
        if profile is None:
            return self.username
        return f"{profile.first_name} {profile.last_name}".strip() or self.username

    def get_short_name(self) -> str:
        profile = getattr(self, "profile", None)
        return (profile.first_name if profile else "") or self.username


phone_validator = RegexValidator(
    r"^\+?[0-9 ()\-.]{4,31}$",
    "Enter a phone number using digits, spaces and + ( ) - . only.",
)


class Profile(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    phone_number = models.CharField(max_length=32, blank=True, validators=[phone_validator])
    address = models.TextField(max_length=500, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Profile of {self.user}"


class EmailDomainRule(models.Model):
    class Action(models.TextChoices):
        ALLOW = "allow", "Allow"
        BLOCK = "block", "Block"

    domain = models.CharField(
        max_length=253,
        unique=True,
        help_text="Matches this domain and its subdomains, e.g. example.com.",
    )
    action = models.CharField(max_length=5, choices=Action.choices)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(domain=Lower("domain")), name="accounts_domain_rule_lowercase"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.domain}"

    def clean(self) -> None:
        self.domain = (self.domain or "").strip().lower().rstrip(".")


class OneTimeToken(models.Model):
    """A single-use, expiring secret sent by email. Only hashes are stored."""

    class Purpose(models.TextChoices):
        VERIFY_EMAIL = "verify_email", "Verify email"
        PASSWORD_RESET = "password_reset", "Password reset"

    # db_index=False: the (user, purpose) index serves lookups by user.
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="one_time_tokens", db_index=False
    )
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    # SHA-256 of a 256-bit random link token: fast hashing is safe for secrets this long.
    token_hash = models.CharField(max_length=64, unique=True)
    # Keyed hash of the short code typed by hand (API reset); empty when there is none.
    code_hash = models.CharField(max_length=64, blank=True)
    code_attempts = models.PositiveSmallIntegerField(default=0)
    # The address being verified: the current one, or a new one awaiting confirmation.
    email = models.EmailField(max_length=254, blank=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose"], name="accounts_ott_user_purpose")]

    def __str__(self) -> str:
        return f"{self.purpose} for {self.user_id}"


class Channel(models.TextChoices):
    BROWSER = "browser", "Browser"
    API = "api", "API"
    OAUTH = "oauth", "OAuth"
    ADMIN = "admin", "Admin"


class UserSession(models.Model):
    """One sign-in on any channel; its id is the `sid` claim of the tokens it issues."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # db_index=False: the (user, created_at) index serves lookups by user.
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="sessions", db_index=False
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    device_label = models.CharField(max_length=100, blank=True)
    session_key = models.CharField(max_length=40, blank=True, db_index=True)
    # The jti of the current refresh token of this sign-in's family; older ones are dead.
    refresh_jti = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # How the sign-in was proven (AuthMethod values, space-separated), and when the holder
    # last proved it: re-authentication ("sudo mode") counts from proven_at.
    amr = models.CharField(max_length=64, blank=True, default="", db_default="")
    proven_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=40, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"], name="accounts_session_user_created"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} session of {self.user_id}"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class LoginOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    BAD_CREDENTIALS = "bad_credentials", "Wrong username or password"
    LOCKED_OUT = "locked_out", "Locked out"
    UNVERIFIED = "unverified", "Email not verified"
    INACTIVE = "inactive", "Account inactive"
    PASSWORD_CHANGE_REQUIRED = "password_change_required", "Password change required"
    BAD_CODE = "bad_code", "Wrong verification code"
    MFA_ENROLLMENT_REQUIRED = "mfa_enrollment_required", "Second factor not set up"


class LoginEvent(models.Model):
    """Every sign-in attempt, kept for LOGIN_HISTORY_RETENTION_DAYS."""

    # db_index=False: the (user, -created_at) index serves lookups by user; one index fewer to
    # update on every sign-in.
    user = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="login_events",
        db_index=False,
    )
    identifier = models.CharField(max_length=254, blank=True)
    outcome = models.CharField(max_length=32, choices=LoginOutcome.choices)
    reason = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    device_label = models.CharField(max_length=100, blank=True)
    # How a success was proven (AuthMethod values), as on its UserSession.
    amr = models.CharField(max_length=64, blank=True, default="", db_default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"], name="accounts_login_user_created"),
            models.Index(fields=["created_at"], name="accounts_login_created"),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} for {self.identifier}"


from accounts.models.factors import (  # noqa: E402 - after User, which they point to
    AuthMethod,
    Passkey,
    PasskeyChallenge,
    PendingSignIn,
    RecoveryCode,
    TotpDevice,
)

__all__ = [
    "AuthMethod",
    "Channel",
    "EmailDomainRule",
    "LoginEvent",
    "LoginOutcome",
    "OneTimeToken",
    "Passkey",
    "PasskeyChallenge",
    "PendingSignIn",
    "Profile",
    "RecoveryCode",
    "TotpDevice",
    "User",
    "UserSession",
    "UserType",
]
