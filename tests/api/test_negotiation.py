"""The portal's content negotiation chooses exactly what DRF's default would."""

from __future__ import annotations

import pytest
from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from identity.api.negotiation import Negotiation

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "application/json; indent=4",
    "application/*",
    "text/html",
    "text/html, */*;q=0.1",
    "application/problem+json",
    "",
]
QUERIES = ["", "page=2", "format=json", "format=api", "format=xml"]


def _choice(negotiation, accept, query, renderers):
    factory = APIRequestFactory()
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(factory.get(f"/api/v1/me/?{query}" if query else "/api/v1/me/", **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except NotAcceptable:
        return "406"
    except Http404:
        return "404"
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("renderers", [[JSONRenderer()], [JSONRenderer(), BrowsableAPIRenderer()]])
def test_same_choice_as_drf(accept, query, renderers) -> None:
    ours = _choice(Negotiation(), accept, query, renderers)
    assert ours == _choice(DefaultContentNegotiation(), accept, query, renderers)


@pytest.mark.django_db
def test_the_api_refuses_what_it_cannot_render(user_api) -> None:
    response = user_api.get("/api/v1/me/", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert user_api.get("/api/v1/me/", HTTP_ACCEPT="application/json").status_code == 200
