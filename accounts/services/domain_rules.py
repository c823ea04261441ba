"""Email-domain rules that sign-up consults: creating, changing and deleting them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator
from django.db import IntegrityError, transaction

from accounts.errors import DomainRuleExists
from accounts.models import EmailDomainRule

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
