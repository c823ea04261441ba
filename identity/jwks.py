"""The public half of the signing key set as a JWK Set (RFC 7517 §5) at /.well-known/jwks.json."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from identity.keys import signing_keys

# Short enough that a rotation reaches relying parties quickly; they refetch on an unknown kid.
JWKS_MAX_AGE = 300


@require_safe
def jwks(request: HttpRequest) -> JsonResponse:
    """Public keys only (n, e): the private members never leave identity.keys."""
    response = JsonResponse(signing_keys().jwks())
    patch_cache_control(response, public=True, max_age=JWKS_MAX_AGE)
    return response
