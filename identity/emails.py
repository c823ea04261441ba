"""Sending one templated, plain-text message: the apps' emails modules build the context."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


def template_send(*, template: str, to: str, context: dict[str, Any]) -> bool:
    """Renders ``<template>_subject.txt`` and ``<template>.txt`` and sends them; a mail server
    that is down is logged, never raised to the person whose request sent the message."""
    context = {"portal_name": settings.PORTAL_NAME, "portal_url": settings.PORTAL_URL, **context}
    subject = render_to_string(f"{template}_subject.txt", context).strip()
    body = render_to_string(f"{template}.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    except (smtplib.SMTPException, OSError):
        name = template.rsplit("/", 1)[-1]
        logger.warning("email %s could not be sent", name, exc_info=True)
        return False
    return True
