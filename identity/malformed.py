"""Malformed input refused before any view: a NUL character is a 400, never a 500."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from identity.api.errors import VALIDATION_ERROR, problem_response


class NulCharacterMiddleware:
    """Refuses a NUL character in the path or the query string with a 400.

    No identifier, name or token the portal issues holds one, and Postgres refuses it in any
    query: wherever such a value reached a lookup (the authorization and end-session endpoints,
    the developer pages, the API's paths) the answer was a 500. Form and JSON bodies are
    checked by their fields (Django's and DRF's CharField prohibit NUL), the OAuth back
    channel by sso.views.oauth."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or _query_has_nul(request):
            detail = "The request contains a NUL character."
            if request.path.startswith("/api/"):
                return problem_response(status=400, code=VALIDATION_ERROR, detail=detail)
            return HttpResponseBadRequest(detail, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


def _query_has_nul(request: HttpRequest) -> bool:
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in request.GET.lists()
    )
