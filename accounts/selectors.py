"""Read queries on accounts reused by pages, API and admin."""

from __future__ import annotations

from accounts.models import EmailDomainRule, User


def user_get_by_login(*, login: str) -> User | None:
    """The user whose username, or email when ``login`` has an "@", equals it ignoring case."""
    login = (login or "").strip()
    if not login or len(login) > 254:
        return None
    field = "email__iexact" if "@" in login else "username__iexact"
    return User.objects.filter(**{field: login}).select_related("profile").first()


def email_domain_allowed(*, email: str) -> bool:
    """Block rules win; when any allow rule exists, only allowed domains may register.

    A rule for ``example.com`` also covers its subdomains (``mail.example.com``).
    """
    domain = email.rpartition("@")[2].strip().lower().rstrip(".")
    if not domain:
        return False
    parts = domain.split(".")
    candidates = [".".join(parts[i:]) for i in range(len(parts))]
    rules = list(
        EmailDomainRule.objects.values_list("domain", "action").filter(domain__in=candidates)
    )
    if any(action == EmailDomainRule.Action.BLOCK for _, action in rules):
        return False
    if any(action == EmailDomainRule.Action.ALLOW for _, action in rules):
        return True
    return not EmailDomainRule.objects.filter(action=EmailDomainRule.Action.ALLOW).exists()
