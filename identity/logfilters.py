"""Logging filters: link tokens and OAuth secrets never reach a log line (ASVS V7.1.1)."""

from __future__ import annotations

import logging
import re
from typing import Any

from pythonjsonlogger.json import JsonFormatter

# Path segments that are secrets: /accounts/password-reset/<token>/ and
# /accounts/verify-email/<token>/ (the fixed sub-paths done/ and resend/ stay readable), also
# percent-encoded inside another URL's parameter (?next=%2Faccounts%2Fpassword-reset%2F...).
_SLASH = r"(?:/|%2[Ff])"
_TOKEN_IN_PATH = re.compile(
    rf"({_SLASH}(?:password-reset|verify-email){_SLASH})"
    rf"(?!(?:done|resend|resend-pending){_SLASH})[^/\s?&\"']{{16,}}"
)
# OAuth parameters that are secrets wherever a URL or body is logged: DOT logs the client's
# success URL (with the authorization code) at DEBUG. Also percent-encoded, as a URL nested in
# another one's parameter carries them (Location: /accounts/login/?next=/o/authorize/%3Fcode%3D).
_SECRET_PARAM = re.compile(
    r"((?:^|[?&#\s]|%3[Ff]|%26)(?:code|code_verifier|client_secret|token|access_token"
    r"|refresh_token|id_token|id_token_hint|password)(?:=|%3[Dd]))(?:(?!%26)[^&#\s\"'])+"
)
# The same names as dict keys ({'code': '...'}), as oauthlib prints its grants at DEBUG.
_SECRET_KEY = re.compile(
    r"""(['"](?:code|code_verifier|client_secret|token|access_token|refresh_token"""
    r"""|id_token|id_token_hint|password)['"]:\s*['"])[^'"]+"""
)
REDACTED = r"\1[redacted]"


# Every pattern above needs one of these words: most text (every access-log field of an
# ordinary request) is let through after this one cheap search.
_TRIGGER = re.compile(r"password|verify-email|code|token|client_secret")


def redact(text: str) -> str:
    if not _TRIGGER.search(text):
        return text
    text = _TOKEN_IN_PATH.sub(REDACTED, text)
    return _SECRET_KEY.sub(REDACTED, _SECRET_PARAM.sub(REDACTED, text))


class RedactTokenPaths(logging.Filter):
    """Rewrites a record whose message holds a link token in a URL path or a secret OAuth
    parameter.

    django.request logs the path of every 4xx/5xx ("Bad Request: /accounts/password-reset/
    <token>/") and django.server every request line; both would write a live or just-used
    secret into the logs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
            # The request (for handlers such as mail_admins) would print the same path.
            if hasattr(record, "request"):
                record.request = None
        return True


# The fields of a JSON line (LOG_FORMAT=json), for Django's LOGGING and gunicorn's own logs alike.
JSON_FIELDS = ["asctime", "levelname", "name", "message", "request_id", "process"]
JSON_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger"}


class RedactingJsonFormatter(JsonFormatter):
    """python-json-logger's formatter for LOG_FORMAT=json, redacting the whole line.

    A JSON line carries a record's extra attributes too, which a text line never printed:
    django.request's ``request`` (its repr holds the path and query string, ``?code=...``)
    is left out, and the finished line goes through ``redact`` like any message."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.pop("request", None)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
