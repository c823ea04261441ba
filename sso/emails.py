"""Building and sending the single sign-on emails (templates under templates/sso/email/)."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


def _send(*, template: str, to: str, context: dict[str, Any]) -> bool:
    """Sends one message; a mail server that is down is logged, never raised to the owner."""
    context = {"portal_name": settings.PORTAL_NAME, "portal_url": settings.PORTAL_URL, **context}
    subject = render_to_string(f"sso/email/{template}_subject.txt", context).strip()
    body = render_to_string(f"sso/email/{template}.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    except (smtplib.SMTPException, OSError):
        logger.warning("email %s could not be sent", template, exc_info=True)
        return False
    return True


def send_application_invitation(*, application: Any, user: Any, link: str) -> bool:
    context = {
        "username": user.username,
        "application": application.name,
        "owner": application.user.username if application.user else "",
        "link": link,
        "days": settings.INVITATION_TTL.days,
    }
    return _send(template="application_invitation", to=user.email, context=context)
