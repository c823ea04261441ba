"""Discovery documents: OpenID Provider Metadata and RFC 8414 Authorization Server Metadata.

Both list only what the server really does: the code flow with S256 PKCE, refresh and client
credentials, RS256 id_tokens signed with the portal's one key set (/.well-known/jwks.json).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe
from oauth2_provider.scopes import get_scopes_backend

from accounts.claims import SUPPORTED_CLAIMS
from accounts.services.mfa.amr import ACR_VALUES
from sso import services

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
MAX_AGE = 300
# Every id_token also says when and how its sign-in was proven (OIDC Core §2, RFC 8176).
PROOF_CLAIMS = ["acr", "amr", "auth_time"]


def _url(name: str) -> str:
    return services.issuer() + reverse(name)


def _common() -> dict[str, Any]:
    return {
        "issuer": services.issuer(),
        "authorization_endpoint": _url("oauth2_provider:authorize"),
        "token_endpoint": _url("oauth2_provider:token"),
        "jwks_uri": _url("jwks"),
        "revocation_endpoint": _url("oauth2_provider:revoke-token"),
        "introspection_endpoint": _url("oauth2_provider:introspect"),
        "scopes_supported": list(get_scopes_backend().get_all_scopes()),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS[:2],
        "code_challenge_methods_supported": ["S256"],
        # RFC 9207: the authorization response carries iss.
        "authorization_response_iss_parameter_supported": True,
    }


def _respond(data: dict[str, Any]) -> JsonResponse:
    response = JsonResponse(data)
    response["Access-Control-Allow-Origin"] = "*"
    patch_cache_control(response, public=True, max_age=MAX_AGE)
    return response


@require_safe
def openid_configuration(request: HttpRequest) -> JsonResponse:
    """OpenID Connect Discovery 1.0 §3."""
    return _respond(
        {
            **_common(),
            "userinfo_endpoint": _url("oauth2_provider:user-info"),
            "end_session_endpoint": _url("oauth2_provider:rp-initiated-logout"),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": sorted({*SUPPORTED_CLAIMS, *PROOF_CLAIMS}),
            # Weakest first; a client asks one with acr_values (OIDC Core §3.1.2.1).
            "acr_values_supported": list(ACR_VALUES),
            "prompt_values_supported": ["none", "login", "consent"],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            # OpenID Connect Back-Channel Logout 1.0 §2.1: logout tokens carry sid (the
            # id_token's) as well as sub.
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
        }
    )


@require_safe
def authorization_server_metadata(request: HttpRequest) -> JsonResponse:
    """RFC 8414 §2."""
    return _respond(_common())
