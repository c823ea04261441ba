"""Every API error as an RFC 9457 problem (application/problem+json), on drf-standardized-errors.

Shape: {"type", "title", "status", "detail", "code", "errors": [{"field", "code", "message"}]}.
Domain errors (identity.errors.ApplicationError) and Django ValidationErrors raised by services
keep their codes; DRF's own errors keep DRF's codes.
"""

from __future__ import annotations

import sys
from http import HTTPStatus
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults
from drf_standardized_errors.formatter import ExceptionFormatter, flatten_errors
from drf_standardized_errors.handler import ExceptionHandler
from rest_framework import exceptions
from rest_framework.fields import get_error_detail
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from identity import metrics
from identity.errors import ApplicationError

PROBLEM_CONTENT_TYPE = "application/problem+json"
VALIDATION_ERROR = "validation_error"
# Keys under which DRF and Django put errors that belong to no single field.
_NON_FIELD_KEYS = {api_settings.NON_FIELD_ERRORS_KEY, "__all__"}
# The database cannot be reached (down, restarting, failing over): a 503 the client may retry,
# never a 500. psycopg's connect_timeout (DB_CONNECT_TIMEOUT) bounds how long that takes.
DATABASE_DOWN_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_DETAIL = "The service is briefly unavailable. Try again shortly."


class Problem(exceptions.APIException):
    """A coded refusal with its own status, optionally tied to one input field."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        retry_after: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status
        self.field = field
        self.wait = retry_after
        self.extra = extra or {}


class ServiceUnavailable(exceptions.APIException):
    status_code = 503
    default_code = "service_unavailable"
    default_detail = UNAVAILABLE_DETAIL


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "request_too_large"
    default_detail = "The request body is too large."


def problem_body(
    *, status: int, code: str, detail: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    # "about:blank" types carry the status phrase as title (RFC 9457 §4.2.1); `code` is
    # the stable machine-readable key clients branch on.
    return {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": errors or [],
    }


def problem_response(*, status: int, code: str, detail: str) -> HttpResponse:
    """A problem for plain Django views (404/500 handlers outside DRF)."""
    body = problem_body(status=status, code=code, detail=detail)
    return JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)


class ProblemExceptionHandler(ExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, ApplicationError):
            return Problem(
                status=exc.status,
                code=exc.code,
                message=exc.message,
                field=exc.field,
                retry_after=getattr(exc, "retry_after", None),
                extra=exc.extra(),
            )
        if isinstance(exc, DATABASE_DOWN_ERRORS):
            metrics.database_error_record()
            return ServiceUnavailable()
        if isinstance(exc, RequestDataTooBig):  # DATA_UPLOAD_MAX_MEMORY_SIZE, read by DRF
            return RequestTooLarge()
        if isinstance(exc, DjangoValidationError):
            return exceptions.ValidationError(detail=get_error_detail(exc))
        return super().convert_known_exceptions(exc)

    def get_headers(self, exc: exceptions.APIException) -> dict[str, str]:
        headers = super().get_headers(exc)
        if exc.status_code == 401:
            # RFC 9110 §15.5.2: a 401 names the scheme that would work.
            headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
        if exc.status_code == 429:
            headers.setdefault("Retry-After", str(max(1, int(getattr(exc, "wait", 0) or 0))))
        if exc.status_code == 503:
            headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
        return headers

    def get_response(self, exc: exceptions.APIException, data: dict) -> Response:
        response = super().get_response(exc, data)
        response.content_type = PROBLEM_CONTENT_TYPE
        request = self.context.get("request")
        if not isinstance(getattr(request, "accepted_renderer", None), JSONRenderer):
            # A view that renders YAML or HTML (the schema, the docs page) still answers its
            # refusals in JSON: DRF renders the error with the renderer negotiated for the view.
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = PROBLEM_CONTENT_TYPE
        return response


class ProblemFormatter(ExceptionFormatter):
    def run(self) -> dict[str, Any]:
        status = self.exc.status_code
        if isinstance(self.exc, exceptions.ValidationError):
            errors = self._validation_errors()
            detail = errors[0]["message"] if len(errors) == 1 else "The request is not valid."
            return problem_body(status=status, code=VALIDATION_ERROR, detail=detail, errors=errors)
        code, detail = self._code_and_detail()
        field = getattr(self.exc, "field", None)
        errors = [{"field": field, "code": code, "message": detail}] if field else []
        body = problem_body(status=status, code=code, detail=detail, errors=errors)
        # Extension members (ApplicationError.extra_members) never replace the standard ones.
        extra = getattr(self.exc, "extra", {})
        return body | {name: value for name, value in extra.items() if name not in body}

    def _validation_errors(self) -> list[dict[str, Any]]:
        return [
            {
                "field": None if error.attr in _NON_FIELD_KEYS else error.attr,
                "code": error.code,
                "message": error.detail,
            }
            for error in flatten_errors(self.exc.detail)
        ]

    def _code_and_detail(self) -> tuple[str, str]:
        detail = self.exc.detail
        if isinstance(detail, (list, dict)):  # only ValidationError nests; be safe anyway
            first = flatten_errors(detail)
            return (first[0].code, first[0].detail) if first else ("error", "Error.")
        code = getattr(detail, "code", None) or self.exc.default_code
        if isinstance(self.exc, ServiceUnavailable):
            return ServiceUnavailable.default_code, UNAVAILABLE_DETAIL
        if self.exc.status_code >= 500:
            # Never leak internals: one fixed code and message for every server error.
            return "server_error", "The server could not complete the request."
        return str(code), str(detail)


def is_api_path(path: str) -> bool:
    """/api and everything under /api/ answers problems, never an HTML page."""
    return path == "/api" or path.startswith("/api/")


def _is_api(request: HttpRequest) -> bool:
    return is_api_path(request.path)


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 for pages; a problem for /api/ (unknown paths never reach DRF)."""
    if _is_api(request):
        return problem_response(status=404, code="not_found", detail="No such resource.")
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    """A 503 (problem or page) when the database is unreachable, else the usual 500."""
    if isinstance(sys.exc_info()[1], DATABASE_DOWN_ERRORS):
        metrics.database_error_record()
        return _unavailable(request)
    if _is_api(request):
        return problem_response(
            status=500, code="server_error", detail="The server could not complete the request."
        )
    return defaults.server_error(request)


def _unavailable(request: HttpRequest) -> HttpResponse:
    if _is_api(request) or request.path.startswith("/o/"):
        response = problem_response(
            status=503, code=ServiceUnavailable.default_code, detail=UNAVAILABLE_DETAIL
        )
    else:
        # No request in the context: context processors would query the database again.
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
