"""Settings for the identity portal, read from the environment (12-factor).

DJANGO_ENV picks a profile: ``production`` (the default, safe and strict), ``development``
(what ``make run`` uses: SQLite under var/, console email, generated keys) or ``test``.
Every variable is listed with its default in README.md.
"""

from __future__ import annotations

import ipaddress
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import lazy

from identity import logfilters

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# ---------------------------------------------------------------------------
# Profile
# ---------------------------------------------------------------------------
DJANGO_ENV = env.str("DJANGO_ENV", default="production")
if DJANGO_ENV not in {"production", "development", "test"}:
    raise ImproperlyConfigured("DJANGO_ENV must be production, development or test.")
PRODUCTION = DJANGO_ENV == "production"
DEVELOPMENT = DJANGO_ENV == "development"
TESTING = DJANGO_ENV == "test"

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))


def _dev_secret_key() -> str:
    """A per-checkout secret for development, generated once into var/."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def _dev_data_encryption_key() -> str:
    """A per-checkout data encryption key for development and tests, generated once into var/."""
    path = VAR_DIR / "data_encryption_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return path.read_text().strip()


def _fernet_key_valid(key: str) -> bool:
    try:
        Fernet(key)
    except (ValueError, TypeError):
        return False
    return True


# ---------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=DEVELOPMENT)

if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set in production.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production.")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _dev_secret_key()
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
# Previous keys, newest first, while a rotation settles (README, "Rotating SECRET_KEY"):
# signed sessions and cookies, mailed reset codes and client secrets made under them verify.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

# Absolute base URL used in emails; never derived from the request's Host header.
PORTAL_URL = env.str(
    "PORTAL_URL",
    default=f"https://{ALLOWED_HOSTS[0]}" if PRODUCTION else "http://127.0.0.1:8000",
).rstrip("/")
PORTAL_NAME = env.str("PORTAL_NAME", default="Identity Portal")

# Mounts /bench/bare/, the bare JSON view `make bench` compares the API with. Production
# refuses it unless every allowed host is a loopback address (the bench's own server).
BENCH_URLS = env.bool("BENCH_URLS", default=False)
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
if PRODUCTION and BENCH_URLS and not set(ALLOWED_HOSTS) <= _LOOPBACK_HOSTS:
    raise ImproperlyConfigured("BENCH_URLS is for the loopback-only bench server, never a site.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "oauth2_provider",
    "axes",
    "identity",
    "accounts",
    "authz",
    "sso",
    # After identity: identity's db_worker command (the same worker plus the outbox's sweep)
    # takes the name of django_tasks_db's own.
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    # First: the request id, timing, route metric and log line of every request and response.
    "identity.observe.ObserveRequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "identity.middleware.SecurityHeadersMiddleware",
    "identity.malformed.NulCharacterMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Django's, with a method-keeping redirect for API paths missing their slash.
    "identity.middleware.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserSessionMiddleware",
    "accounts.middleware.PasswordChangeRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # axes must come last: it turns a lockout signalled by authenticate() into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "identity.urls"
WSGI_APPLICATION = "identity.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "identity.context_processors.portal",
                "authz.context_processors.permissions",
            ],
        },
    },
]
# Forms render through templates/django/forms/ (label, input, errors tied by aria-describedby).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

# ---------------------------------------------------------------------------
# Database and cache
# ---------------------------------------------------------------------------
_default_db = "" if PRODUCTION else f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db("DATABASE_URL", default=_default_db or "sqlite://:memory:")}
if (
    PRODUCTION
    and (
        not env.str("DATABASE_URL", default="")
        or DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    )
    and not env.bool("ALLOW_SQLITE_IN_PRODUCTION", default=False)
):
    raise ImproperlyConfigured(
        "Production needs DATABASE_URL pointing at Postgres "
        "(set ALLOW_SQLITE_IN_PRODUCTION=true to accept SQLite)."
    )
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The same backend; its health check skips connections used in the last second.
    DATABASES["default"]["ENGINE"] = "identity.postgres"
if DATABASES["default"]["ENGINE"].endswith(("postgresql", "identity.postgres")):
    # Fail fast when Postgres is unreachable: the request becomes a 503 (identity.api.errors)
    # in a few seconds instead of hanging a worker until the OS gives up on the connection.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=3)
    )
    # Only identity.postgres's prepared_cursor binds on the server, so only the per-request
    # token lookup is prepared. Empty turns it off (a pooler without prepared statements).
    _prepare_threshold = env.str("DB_PREPARE_THRESHOLD", default="5")
    DATABASES["default"]["OPTIONS"].setdefault(
        "prepare_threshold", int(_prepare_threshold) if _prepare_threshold else None
    )
    # Request queries read a handful of rows. A parallel plan, which the planner picks when a
    # sampled histogram overestimates a prefix search on a large table, forks workers that cost
    # more than the query (the bench's 1M-user search: 0.3 ms serial, 7 ms parallel). Empty
    # sends nothing (a pooler that refuses the `options` startup parameter).
    _parallel_workers = env.str("DB_PARALLEL_WORKERS", default="0")
    if _parallel_workers:
        DATABASES["default"]["OPTIONS"].setdefault(
            "options", f"-c max_parallel_workers_per_gather={int(_parallel_workers)}"
        )
# ATOMIC_REQUESTS stays off: a rolled-back request would erase the failed-attempt rows
# that lockout depends on.
DATABASES["default"]["ATOMIC_REQUESTS"] = False

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://identity")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # The same backend, reusing one client per pool (identity/redis_cache.py).
    CACHES["default"]["BACKEND"] = "identity.redis_cache.RedisCache"
if "redis" in CACHES["default"]["BACKEND"].lower():
    # An unreachable Redis must cost milliseconds, not a hung worker: callers fall back to the
    # database (identity/cache.py).
    _cache_timeout = env.float("CACHE_SOCKET_TIMEOUT", default=1.0)
    CACHES["default"].setdefault("OPTIONS", {}).update(
        socket_connect_timeout=_cache_timeout, socket_timeout=_cache_timeout
    )

# Revoked sign-ins, resolved OAuth tokens, permission answers and rate-limit counters are
# shared through the cache: with a cache each process keeps to itself (or none at all), a token
# revoked through one worker or node stays accepted by the others until its copy expires, and
# each process counts its own attempts. gunicorn runs a worker per core (identity/gunicorn_conf),
# so production needs a shared cache unless one process on one host serves and says so.
_LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
}
if (
    PRODUCTION
    and CACHES["default"]["BACKEND"] in _LOCAL_CACHES
    and not env.bool("ALLOW_LOCAL_CACHE_IN_PRODUCTION", default=False)
):
    raise ImproperlyConfigured(
        "CACHE_URL must name a cache every process shares (redis://host:6379/0) in production "
        "(set ALLOW_LOCAL_CACHE_IN_PRODUCTION=true only for one process on one host)."
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------
# Authentication and passwords
# ---------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Usernames are unique case-insensitively (a functional unique index), which this check
# cannot see.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
AUTHENTICATION_BACKENDS = [
    # axes first: it refuses a locked username+IP pair before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.LoginBackend",
    # Answers has_perm() for the role-granted permission codes of authz (e.g. users.read).
    "authz.backends.RoleBackend",
]

# Argon2id at OWASP's parameters first; PBKDF2 hashes still verify and are upgraded on login.
PRODUCTION_PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    # OAuth client secrets only (256-bit random, so a fast keyed hash is enough: ASVS V6.5.2).
    "sso.hashers.ClientSecretHasher",
]
PASSWORD_HASHERS = PRODUCTION_PASSWORD_HASHERS
if TESTING and env.bool("FAST_PASSWORD_HASHER", default=True):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]

PASSWORD_MIN_LENGTH = env.int("PASSWORD_MIN_LENGTH", default=12)
PASSWORD_MAX_LENGTH = env.int("PASSWORD_MAX_LENGTH", default=1024)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {
        "NAME": "accounts.validators.MaximumLengthValidator",
        "OPTIONS": {"max_length": PASSWORD_MAX_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# mandatory: no sign-in before the email is verified; optional: sign-in allowed.
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
if ACCOUNT_EMAIL_VERIFICATION not in {"mandatory", "optional"}:
    raise ImproperlyConfigured("ACCOUNT_EMAIL_VERIFICATION must be mandatory or optional.")
EMAIL_VERIFICATION_TTL = timedelta(hours=env.int("EMAIL_VERIFICATION_TTL_HOURS", default=48))
PASSWORD_RESET_LINK_TTL = timedelta(minutes=env.int("PASSWORD_RESET_LINK_TTL_MINUTES", default=60))
PASSWORD_RESET_CODE_TTL = timedelta(minutes=env.int("PASSWORD_RESET_CODE_TTL_MINUTES", default=15))
PASSWORD_RESET_CODE_MAX_ATTEMPTS = 5
INVITATION_TTL = timedelta(days=env.int("INVITATION_TTL_DAYS", default=7))

# Multi-factor sign-in (accounts.services.mfa) and secrets the portal reads back
# Fernet keys (32 url-safe base64 bytes: identity.encryption.key_generate()). The first one
# encrypts; fallbacks, newest first, only decrypt while a rotation settles, and each value read
# with one is encrypted again under the current key.
DATA_ENCRYPTION_KEY = env.str("DATA_ENCRYPTION_KEY", default="")
DATA_ENCRYPTION_KEY_FALLBACKS = env.list("DATA_ENCRYPTION_KEY_FALLBACKS", default=[])
if not DATA_ENCRYPTION_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("DATA_ENCRYPTION_KEY must be set in production.")
    DATA_ENCRYPTION_KEY = _dev_data_encryption_key()
for _key in (DATA_ENCRYPTION_KEY, *DATA_ENCRYPTION_KEY_FALLBACKS):
    if not _fernet_key_valid(_key):
        raise ImproperlyConfigured(
            "DATA_ENCRYPTION_KEY and its fallbacks must be Fernet keys (32 url-safe base64 bytes)."
        )
# A sensitive change (a factor, the password, the email, deleting the account) needs a proof
# of the password or a factor no older than this ("sudo mode").
REAUTHENTICATION_SECONDS = env.int("REAUTHENTICATION_SECONDS", default=300)
# Staff accounts must sign in with a second factor (roles can require it too: Role.requires_mfa).
MFA_REQUIRED_FOR_STAFF = env.bool("MFA_REQUIRED_FOR_STAFF", default=PRODUCTION)
# Every account must (ASVS 5.0 V6.3.3 at level 2 asks it of every user): off by default so an
# organisation can roll factors out before it enforces them.
MFA_REQUIRED_FOR_ALL = env.bool("MFA_REQUIRED_FOR_ALL", default=False)
# A password step waits this long for its second factor, and dies after this many wrong codes.
MFA_PENDING_SECONDS = env.int("MFA_PENDING_SECONDS", default=300)
MFA_MAX_ATTEMPTS = 5
MFA_RECOVERY_CODES = 10
MFA_RECOVERY_CODES_LOW = 2  # the user is warned when this many or fewer are left
TOTP_ISSUER = env.str("TOTP_ISSUER", default=PORTAL_NAME)
# WebAuthn relying party: the portal's host name, and the origins a ceremony may come from.
WEBAUTHN_RP_ID = env.str("WEBAUTHN_RP_ID", default=urlsplit(PORTAL_URL).hostname or "localhost")
WEBAUTHN_RP_NAME = env.str("WEBAUTHN_RP_NAME", default=PORTAL_NAME)
WEBAUTHN_ORIGINS = env.list("WEBAUTHN_ORIGINS", default=[PORTAL_URL])

# Sign-in history and alerts
LOGIN_HISTORY_RETENTION_DAYS = env.int("LOGIN_HISTORY_RETENTION_DAYS", default=180)
NEW_DEVICE_ALERTS = env.bool("NEW_DEVICE_ALERTS", default=True)
# Last-seen times are written at most this often per session, never on every request.
SESSION_TOUCH_SECONDS = env.int("SESSION_TOUCH_SECONDS", default=60)

# ---------------------------------------------------------------------------
# Brute force (django-axes)
# ---------------------------------------------------------------------------
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# Keyed on the pair so that an attacker cannot lock a victim out from everywhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.lockout.lockout_username"
AXES_CLIENT_IP_CALLABLE = "identity.net.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_HANDLER = "accounts.lockout.LockoutHandler"
AXES_VERBOSE = False
# accounts.LoginEvent is the sign-in history; axes' own success log would duplicate it.
AXES_DISABLE_ACCESS_LOG = True

# Client IP: REMOTE_ADDR unless the request came through one of these proxies (IPs or CIDRs).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Webhook and back-channel logout receivers may be on private, loopback or link-local
# addresses (identity/outbound.py refuses them otherwise: no SSRF through an application's URL).
# Allowed by default in development only, where the demo client listens on 127.0.0.1.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=DEVELOPMENT)

# ---------------------------------------------------------------------------
# Authorization (authz: roles and permissions)
# ---------------------------------------------------------------------------
# Role names every self-service sign-up receives (comma-separated); none by default.
AUTHZ_SIGNUP_ROLES = env.list("AUTHZ_SIGNUP_ROLES", default=[])
# Seconds a cached role graph or assignment list lives; changes invalidate it at once anyway.
AUTHZ_CACHE_TIMEOUT = env.int("AUTHZ_CACHE_TIMEOUT", default=3600)

# ---------------------------------------------------------------------------
# Signing keys (first-party JWTs and OIDC id_tokens share one key set)
# ---------------------------------------------------------------------------
SIGNING_KEYS_DIR = Path(env.str("SIGNING_KEYS_DIR", default=str(VAR_DIR / "keys")))
# Size of newly generated RSA keys: 2048 or 3072 bits.
SIGNING_KEY_BITS = env.int("SIGNING_KEY_BITS", default=2048)

# ---------------------------------------------------------------------------
# Tokens (first-party API: simplejwt, RS256 on the key set above; see accounts/tokens.py)
# ---------------------------------------------------------------------------
SIMPLE_JWT = {
    "ALGORITHM": "RS256",
    # Never SECRET_KEY: the stock backend must fail closed; accounts.jwt signs with the key set.
    "SIGNING_KEY": None,
    "ACCESS_TOKEN_LIFETIME": timedelta(
        seconds=env.int("JWT_ACCESS_TOKEN_LIFETIME_SECONDS", default=300)
    ),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        days=env.int("JWT_REFRESH_TOKEN_LIFETIME_DAYS", default=14)
    ),
    "ROTATE_REFRESH_TOKENS": True,
    # Rotation and reuse detection live on UserSession.refresh_jti, not the blacklist app.
    "BLACKLIST_AFTER_ROTATION": False,
    "UPDATE_LAST_LOGIN": False,
    "ISSUER": PORTAL_URL,
    "LEEWAY": timedelta(seconds=10),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "public_id",
    "USER_ID_CLAIM": "sub",
    "AUTH_TOKEN_CLASSES": ("accounts.jwt.AccessToken",),
}
# How long a process may answer an access token from memory (accounts.signin_memory) before
# asking the database again; revocations and user changes reach it at once over Redis pub/sub.
# Used only with a Redis cache; 0 turns it off.
ACCESS_TOKEN_MEMORY_SECONDS = env.float("ACCESS_TOKEN_MEMORY_SECONDS", default=10.0)

# ---------------------------------------------------------------------------
# OAuth 2.0 / OpenID Connect (django-oauth-toolkit)
# ---------------------------------------------------------------------------
OAUTH2_PROVIDER_APPLICATION_MODEL = "sso.Application"
# DOT's own grant model, named so that sso.SignIn can point at it from a migration.
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"


def _oidc_private_pem() -> str:
    # Read per use, not at import: a rotated key set (identity.keys) is honoured without a
    # restart. sso.Application.jwk_key signs with the same active key.
    from identity.keys import signing_keys

    return signing_keys().active.private_pem().decode()


def _oidc_issuer() -> str:
    from django.conf import settings

    return settings.PORTAL_URL


OAUTH2_PROVIDER = {
    "OAUTH2_VALIDATOR_CLASS": "sso.oauth_validators.OAuth2Validator",
    "OAUTH2_SERVER_CLASS": "sso.server.Server",
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": lazy(_oidc_private_pem, str)(),
    # One issuer for discovery, id_tokens and the RFC 9207 iss parameter: the portal's URL.
    "OIDC_ISS_ENDPOINT": lazy(_oidc_issuer, str)(),
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    # Prompt only where OIDC RP-Initiated Logout 1.0 §2 says the OP MUST ask.
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
    # sso.views.LogoutView ends only the sign-ins of this browser session, not every token.
    "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": False,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ],
    "SCOPES": {
        "openid": "Sign you in with your portal account",
        "profile": "See your name, username and when your profile last changed",
        "email": "See your email address and whether it is verified",
        "phone": "See your phone number",
        "address": "See your postal address",
        "roles": "See the roles you hold in the portal",
        "read": "Read your portal account through its API",
        "write": "Change your portal account through its API",
        # Only applications an administrator trusts may hold these (sso.scopes); the user's
        # (or service account's) own permissions still decide each request.
        "admin.read": "See the portal's users, roles and applications, as far as you may",
        "admin.write": "Administer the portal's users, roles and applications, as far as you may",
    },
    "DEFAULT_SCOPES": ["openid"],
    "SCOPES_BACKEND_CLASS": "sso.scopes.ApplicationScopes",
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("OAUTH_ACCESS_TOKEN_EXPIRE_SECONDS", default=900),
    "ID_TOKEN_EXPIRE_SECONDS": env.int("OAUTH_ID_TOKEN_EXPIRE_SECONDS", default=900),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env.int(
        "OAUTH_REFRESH_TOKEN_EXPIRE_SECONDS", default=30 * 24 * 3600
    ),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # RFC 9700 §4.14.2: a rotated refresh token is dead at once; no replay window.
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "PKCE_REQUIRED": True,
    # https only; sso.Application adds http for loopback IP literals (RFC 8252 §7.3) and
    # reverse-DNS private-use schemes (§7.1) registered by native apps.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "ALLOW_URI_WILDCARDS": False,
    # Client secrets: HMAC-SHA256 keyed with SECRET_KEY (sso.hashers), never the password hasher.
    "CLIENT_SECRET_HASHER": "hmac_sha256",
    "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": env.int("OAUTH_CLEARTOKENS_BATCH_SIZE", default=1000),
    "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL": 0,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}
# A repeated OAuth access token is accepted from the cache for this long without a query;
# every revocation path clears or outdates the entry (sso.authentication).
OAUTH_TOKEN_CACHE_SECONDS = env.int("OAUTH_TOKEN_CACHE_SECONDS", default=30)

# ---------------------------------------------------------------------------
# Rate limits: one set for pages and API (identity/ratelimit.py)
# ---------------------------------------------------------------------------
# "N/period" (10/min, 5/hour, 5/15min). <name> counts per client IP, <name>_identifier per
# account identifier and client IP (sign-up's: per address alone), so that no stranger can lock
# an owner out. A page and its API twin count in the same counters. The variables keep their
# API_ prefix from when only the API read them.
RATE_LIMITS = {
    "signup": env.str("API_THROTTLE_SIGNUP", default="10/hour"),
    "signup_identifier": env.str("API_THROTTLE_SIGNUP_IDENTIFIER", default="5/hour"),
    "login": env.str("API_THROTTLE_LOGIN", default="30/min"),
    "login_identifier": env.str("API_THROTTLE_LOGIN_IDENTIFIER", default="10/min"),
    "refresh": env.str("API_THROTTLE_REFRESH", default="60/min"),
    "password_reset": env.str("API_THROTTLE_PASSWORD_RESET", default="10/hour"),
    "password_reset_identifier": env.str(
        "API_THROTTLE_PASSWORD_RESET_IDENTIFIER", default="5/hour"
    ),
    "password_reset_confirm": env.str("API_THROTTLE_PASSWORD_RESET_CONFIRM", default="30/hour"),
    "password_reset_confirm_identifier": env.str(
        "API_THROTTLE_PASSWORD_RESET_CONFIRM_IDENTIFIER", default="10/hour"
    ),
    "verify_resend": env.str("API_THROTTLE_VERIFY_RESEND", default="10/hour"),
    "verify_resend_identifier": env.str("API_THROTTLE_VERIFY_RESEND_IDENTIFIER", default="3/hour"),
}

# ---------------------------------------------------------------------------
# REST API
# ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.JWTAuthentication",
        "sso.authentication.OAuth2Authentication",
        # DRF's, refusing an account that must change its password first.
        "accounts.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "identity.api.negotiation.Negotiation",
    # JSON only; bodies over DATA_UPLOAD_MAX_MEMORY_SIZE are refused with 413.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "identity.api.schema.AutoSchema",
    # drf-standardized-errors, formatted as RFC 9457 problems by identity.api.errors.
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "identity.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "UNAUTHENTICATED_USER": None,
}
# A password-reset request answers no sooner than this, whether or not the account exists,
# so that its timing does not reveal which (sending mail takes time).
PASSWORD_RESET_MIN_RESPONSE_MS = env.int("PASSWORD_RESET_MIN_RESPONSE_MS", default=400)

# Every status an API error may have; identity/api/schema.py documents each one.
_PROBLEM_STATUSES = (400, 401, 403, 404, 405, 406, 409, 413, 415, 429, 500, 503)
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "identity.api.errors.ProblemExceptionHandler",
    "EXCEPTION_FORMATTER_CLASS": "identity.api.errors.ProblemFormatter",
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": False,
    "ALLOWED_ERROR_STATUS_CODES": [str(status) for status in _PROBLEM_STATUSES],
    "ERROR_SCHEMAS": {
        str(status): f"identity.api.schema.Problem{status}Serializer"
        for status in _PROBLEM_STATUSES
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Identity Portal API",
    "DESCRIPTION": (
        "Accounts, sign-in tokens and administration. Every error is an RFC 9457 problem "
        "(application/problem+json) with a stable `code` and per-field `errors`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        **{
            f"Problem{status}CodeEnum": f"identity.api.schema.codes_{status}"
            for status in _PROBLEM_STATUSES
        },
        # The second-factor methods: the mfa_required problem's `methods` and the `method` of
        # /api/v1/auth/login/mfa/ are one set.
        "MfaMethodEnum": "accounts.services.mfa.MFA_METHODS",
    },
}

# ---------------------------------------------------------------------------
# Email
# ---------------------------------------------------------------------------
vars().update(
    env.email_url(
        "EMAIL_URL", default="consolemail://" if not PRODUCTION else "smtp://localhost:25"
    )
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Identity Portal <no-reply@localhost>")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# ---------------------------------------------------------------------------
# HTTP security
# ---------------------------------------------------------------------------
# Django's database sessions, written once per sign-in instead of INSERT then UPDATE.
SESSION_ENGINE = "accounts.session_store"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=14 * 24 * 3600)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
# The load balancer and the container runtime probe nodes over plain HTTP inside the network;
# a redirect to HTTPS would read as "down". The probes carry and return nothing secret.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# No inline scripts or styles anywhere: the stylesheet and scripts live in static/.
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default=(
        "default-src 'self'; img-src 'self' data: https:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=256 * 1024)

# ---------------------------------------------------------------------------
# Static files, i18n
# ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
# Served at the site root, unhashed: browsers ask for /favicon.ico whatever the pages link.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------------------
# Outbox: events delivered by the task worker (identity/events.py, identity/tasks.py)
# ---------------------------------------------------------------------------
# django-tasks' database backend: a task row is written in the transaction of the change that
# causes it, and `manage.py db_worker` runs it (in every profile, tests included).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Seconds to wait after each failed try before the next; its length is the number of retries
# (the default: 9 tries over about a day). Tests shorten it through the environment.
OUTBOX_BACKOFF_SECONDS = [
    int(value)
    for value in env.list(
        "OUTBOX_BACKOFF_SECONDS",
        default=["30", "120", "600", "1800", "3600", "10800", "21600", "43200"],
    )
]
# How long one try may take (connect, send, answer) before it counts as a timeout, retried.
OUTBOX_TIMEOUT_SECONDS = env.float("OUTBOX_TIMEOUT_SECONDS", default=5.0)
# How often a worker looks for a delivery whose try was lost with its worker (killed mid-try).
OUTBOX_SWEEP_SECONDS = env.float("OUTBOX_SWEEP_SECONDS", default=60.0)

# ---------------------------------------------------------------------------
# Metrics (identity/metrics.py) and logs
# ---------------------------------------------------------------------------
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=True)
# Who may read /metrics: these client IPs or networks (TRUSTED_PROXIES-aware, identity.net), or
# whoever sends "Authorization: Bearer <METRICS_TOKEN>" (empty: no token access). Others: 404.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# prometheus-client's multiprocess mode: gunicorn's workers keep their values there and /metrics
# adds them up. identity/gunicorn_conf.py makes one when it is not given; empty without gunicorn.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
for _network in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_network.strip(), strict=False)
    except ValueError as _error:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS holds {_network!r}, not an IP address or network."
        ) from _error
# plain: one text line per record; json: one JSON object per record (python-json-logger), and
# one line per request (logger identity.request: route, status, duration, user, sid, client IP).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured("LOG_FORMAT must be plain or json.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "identity.logfilters.RedactingJsonFormatter",
            "fmt": logfilters.JSON_FIELDS,
            "rename_fields": logfilters.JSON_RENAMES,
        },
    },
    "filters": {
        # Emailed link tokens sit in URL paths; the loggers that print paths redact them.
        "redact_token_paths": {"()": "identity.logfilters.RedactTokenPaths"},
        "request_id": {"()": "identity.observe.RequestIdFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact_token_paths", "request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "django.request": {"filters": ["redact_token_paths"]},
        "oauth2_provider": {"filters": ["redact_token_paths"]},
        # oauthlib prints grants and tokens at DEBUG (its child loggers escape a logger filter).
        "oauthlib": {"level": "INFO"},
        # httpx and httpcore print every URL they call at INFO/DEBUG: a receiver's URL (a
        # webhook path, a back-channel logout URI) may be its only credential.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "django.server": {
            "handlers": ["console"],
            "filters": ["redact_token_paths"],
            "level": "INFO",
            "propagate": False,
        },
        # The per-request line: JSON logs carry it (a plain log has gunicorn's access log).
        "identity.request": {"level": "INFO" if LOG_FORMAT == "json" else "WARNING"},
    },
}
