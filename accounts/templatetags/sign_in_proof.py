"""Template filters that say how a sign-in was proven ("Password + Authenticator app")."""

from __future__ import annotations

from django import template

from accounts.services.mfa.amr import proof_label as amr_proof_label

register = template.Library()


@register.filter
def proof_label(amr: str | None) -> str:
    return amr_proof_label(amr)
