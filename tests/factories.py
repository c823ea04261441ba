"""factory-boy factories for the accounts models, exposed as fixtures in tests/conftest.py."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.models import (
    Channel,
    EmailDomainRule,
    LoginEvent,
    LoginOutcome,
    Profile,
    User,
    UserSession,
    UserType,
)
from authz.models import Permission, Role, RoleAssignment

DEFAULT_PASSWORD = "correct horse battery staple 42"


def _username(base: str, n: int) -> str:
    # The username rule allows letters, digits and . - _ only (never "@").
    safe = re.sub(r"[^\w.-]", "", base)
    return f"{safe}.{n}"


class ProfileFactory(DjangoModelFactory):
    class Meta:
        model = Profile

    # profile=None stops UserFactory from creating a second profile for the same user.
    user = factory.SubFactory("tests.factories.UserFactory", profile=None)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")


class UserFactory(DjangoModelFactory):
    """A verified, active customer with DEFAULT_PASSWORD (``user.raw_password``)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    class Params:
        base_username = factory.Faker("user_name")
        email_domain = factory.Faker("safe_domain_name")
        unverified = factory.Trait(email_verified_at=None)
        staff = factory.Trait(is_staff=True, user_type=UserType.EMPLOYEE)
        superuser = factory.Trait(is_staff=True, is_superuser=True, user_type=UserType.ADMIN)
        needs_password_change = factory.Trait(must_change_password=True)

    username = factory.LazyAttributeSequence(lambda o, n: _username(o.base_username, n))
    email = factory.LazyAttribute(lambda o: f"{o.username}@{o.email_domain}".lower())
    user_type = UserType.CUSTOMER
    email_verified_at = factory.LazyFunction(timezone.now)
    must_change_password = False
    is_active = True
    profile = factory.RelatedFactory(ProfileFactory, factory_related_name="user")

    @factory.post_generation
    def password(obj: User, create: bool, extracted: str | None, **kwargs: Any) -> None:
        obj.raw_password = extracted or DEFAULT_PASSWORD
        obj.set_password(obj.raw_password)
        if create:
            obj.save(update_fields=["password"])


class EmailDomainRuleFactory(DjangoModelFactory):
    class Meta:
        model = EmailDomainRule

    domain = factory.Sequence(lambda n: f"domain{n}.example.com")
    action = EmailDomainRule.Action.BLOCK


class UserSessionFactory(DjangoModelFactory):
    class Meta:
        model = UserSession

    class Params:
        revoked = factory.Trait(
            revoked_at=factory.LazyFunction(timezone.now), revoked_reason="user"
        )
        expired = factory.Trait(
            expires_at=factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=1))
        )

    user = factory.SubFactory(UserFactory)
    channel = Channel.BROWSER
    ip = factory.Faker("ipv4")
    user_agent = factory.Faker("user_agent")
    device_label = "Firefox on Linux"
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=14))


class LoginEventFactory(DjangoModelFactory):
    class Meta:
        model = LoginEvent

    class Params:
        failed = factory.Trait(outcome=LoginOutcome.BAD_CREDENTIALS)

    user = factory.SubFactory(UserFactory)
    identifier = factory.LazyAttribute(lambda o: o.user.username if o.user else "nobody")
    outcome = LoginOutcome.SUCCESS
    channel = Channel.BROWSER
    ip = factory.Faker("ipv4")
    user_agent = factory.Faker("user_agent")


class PermissionFactory(DjangoModelFactory):
    class Meta:
        model = Permission
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"resource{n}.read")
    description = factory.Faker("sentence", nb_words=4)


class RoleFactory(DjangoModelFactory):
    """A role; ``RoleFactory(permissions=[perm, ...])`` grants those permissions."""

    class Meta:
        model = Role
        django_get_or_create = ("name",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"role-{n}")
    description = factory.Faker("sentence", nb_words=4)

    @factory.post_generation
    def permissions(obj: Role, create: bool, extracted: list[Permission] | None, **kwargs: Any):
        if create and extracted:
            obj.permissions.add(*extracted)


class RoleAssignmentFactory(DjangoModelFactory):
    """A raw row: tests of behaviour assign through authz.services.role_assign instead, which
    also invalidates the cached permissions."""

    class Meta:
        model = RoleAssignment

    user = factory.SubFactory(UserFactory)
    role = factory.SubFactory(RoleFactory)
