"""Response headers every page and API response carries, and Django's CommonMiddleware made
safe for API clients."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseRedirectBase
from django.middleware import common
from django.utils.http import escape_leading_slashes

from identity.api.errors import is_api_path


class SecurityHeadersMiddleware:
    """Adds the Content-Security-Policy (no inline scripts or styles) to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response


class HttpResponsePermanentRedirectKeepMethod(HttpResponseRedirectBase):
    status_code = 308


class CommonMiddleware(common.CommonMiddleware):
    """Django's, except for an API call other than GET or HEAD to a path without its trailing
    slash: Django's 301 makes clients repeat a POST as a GET without its body (and with DEBUG
    it raises a RuntimeError page); a 308 keeps the method and body (RFC 9110 §15.4.9)."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if (
            response.status_code == 404
            and request.method not in ("GET", "HEAD")
            and is_api_path(request.path)
            and self.should_redirect_with_slash(request)
        ):
            path = escape_leading_slashes(request.get_full_path(force_append_slash=True))
            return HttpResponsePermanentRedirectKeepMethod(path)
        return super().process_response(request, response)
