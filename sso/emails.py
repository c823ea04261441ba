"""Building and sending the single sign-on emails (templates under templates/sso/email/)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from identity.emails import template_send


def _send(*, template: str, to: str, context: dict[str, Any]) -> bool:
    return template_send(template=f"sso/email/{template}", to=to, context=context)


def send_application_invitation(*, application: Any, user: Any, link: str) -> bool:
    context = {
        "username": user.username,
        "application": application.name,
        "owner": application.user.username if application.user else "",
        "link": link,
        "days": settings.INVITATION_TTL.days,
    }
    return _send(template="application_invitation", to=user.email, context=context)
