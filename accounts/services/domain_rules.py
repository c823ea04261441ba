"""Email-domain rules: creating, changing and deleting them, and applying them to an address
(sign-up, email change, accounts made by administrators)."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator
from django.db import IntegrityError, transaction

from accounts.errors import DomainRuleExists, EmailDomainNotAllowed
from accounts.models import EmailDomainRule, User
from accounts.selectors import email_domain_allowed

logger = logging.getLogger(__name__)

ADMIN_REFUSAL = (
    "The email-domain rules do not allow addresses at this domain. "
    "An administrator who must make an exception says so explicitly (ignore_domain_rules)."
)

_validate_domain = DomainNameValidator(
    message="Enter a domain name such as example.com.", code="invalid_domain"
)


def normalise_domain(domain: str) -> str:
    """Lower case without a trailing dot: the form email_domain_allowed() compares with."""
    domain = (domain or "").strip().lower().rstrip(".")
    _validate_domain(domain)
    if "." not in domain:
        raise ValidationError("Enter a domain name such as example.com.", code="invalid_domain")
    return domain


def email_domain_rule_create(*, domain: str, action: str, note: str = "") -> EmailDomainRule:
    rule = EmailDomainRule(domain=_checked(domain), action=action, note=note)
    _save(rule)
    return rule


def email_domain_rule_update(*, rule: EmailDomainRule, data: dict[str, Any]) -> EmailDomainRule:
    if "domain" in data:
        rule.domain = _checked(data["domain"])
    for field in ("action", "note"):
        if field in data:
            setattr(rule, field, data[field])
    changed = [field for field in ("domain", "action", "note") if field in data]
    _save(rule, update_fields=[*changed, "updated_at"])
    return rule


def email_domain_rule_delete(*, rule: EmailDomainRule) -> None:
    rule.delete()


def _checked(domain: str) -> str:
    try:
        return normalise_domain(domain)
    except ValidationError as error:
        raise ValidationError({"domain": error.error_list}) from error


def _save(rule: EmailDomainRule, *, update_fields: list[str] | None = None) -> None:
    """An update names its columns: a stale copy must not revert a concurrent edit."""
    rule.full_clean(validate_unique=False)
    if EmailDomainRule.objects.filter(domain=rule.domain).exclude(pk=rule.pk).exists():
        raise DomainRuleExists()
    try:
        with transaction.atomic():
            rule.save(update_fields=update_fields)
    except IntegrityError as error:  # a concurrent insert won the unique index
        raise DomainRuleExists() from error


def email_domain_rules_apply(*, email: str, message: str, ignore: bool = False) -> bool:
    """Refuses an address the rules do not allow, unless an administrator ignores them.

    True when the address needed the exception: the caller records who made it
    (``email_domain_override_record``)."""
    if email_domain_allowed(email=email):
        return False
    if not ignore:
        raise EmailDomainNotAllowed(message)
    return True


def email_domain_override_record(*, actor: User, user: User, email: str, created: bool) -> None:
    """Writes an administrator's exception to the domain rules into the account's admin history.

    Django's LogEntry is where the admin already records every change it makes to an account
    (the account's "History" page, with the actor); accounts has no audit table of its own,
    and authz's audit is about roles and permissions. The API writes the same record."""
    domain = email.rpartition("@")[2]
    message = (
        f"{'Created' if created else 'Email change requested'} with the email-domain rules "
        f"ignored: {domain} is not allowed by them."
    )
    LogEntry.objects.log_actions(
        user_id=actor.pk,
        queryset=[user],
        action_flag=ADDITION if created else CHANGE,
        change_message=message,
        single_object=True,
    )
    logger.warning(
        "email-domain rules ignored by an administrator",
        extra={"actor": str(actor.public_id), "user": str(user.public_id), "domain": domain},
    )
