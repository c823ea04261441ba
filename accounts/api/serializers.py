"""Output serializers shared by several account API views (inputs live in each view)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from rest_framework import serializers

from accounts.models import EmailDomainRule, UserType, phone_validator, username_validator
from identity.api import serializers as strict


class ProfileOutputSerializer(strict.OutputSerializer):
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    phone_number = serializers.CharField()
    address = serializers.CharField()
    date_of_birth = serializers.DateField(allow_null=True)


class ProfileInputSerializer(strict.InputSerializer):
    first_name = strict.CharField(max_length=150, allow_blank=True)
    last_name = strict.CharField(max_length=150, allow_blank=True)
    phone_number = strict.CharField(max_length=32, allow_blank=True)
    address = strict.CharField(max_length=500, allow_blank=True)
    date_of_birth = serializers.DateField(allow_null=True)


class NewAccountInputSerializer(strict.InputSerializer):
    """What sign-up and an administrator's create share: the username, the address and the
    optional profile fields, each checked at field level so that one answer names them all."""

    username = strict.CharField(max_length=150, validators=[username_validator])
    email = strict.EmailField(max_length=254)
    first_name = strict.CharField(max_length=150, required=False, allow_blank=True)
    last_name = strict.CharField(max_length=150, required=False, allow_blank=True)
    phone_number = strict.CharField(
        max_length=32, required=False, allow_blank=True, validators=[phone_validator]
    )

    PROFILE_FIELDS = ("first_name", "last_name", "phone_number")

    def validate_password(self, value: str | None) -> str | None:
        # Field level, so that a weak password is reported with the other fields' errors;
        # the service checks again with the account (UserAttributeSimilarityValidator).
        if value is not None:
            validate_password(value)
        return value

    @classmethod
    def split_profile(cls, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The account's own fields, and the profile's."""
        profile = {field: data.pop(field) for field in cls.PROFILE_FIELDS if field in data}
        return data, profile


class ProfilePatchInputSerializer(ProfileInputSerializer):
    """Every field optional: nested serializers do not inherit the root's ``partial``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class MeOutputSerializer(strict.OutputSerializer):
    """The signed-in user; fields of the user row only, so that GET /me/ costs one query."""

    public_id = serializers.UUIDField()
    username = serializers.CharField()
    email = serializers.EmailField()
    email_verified = serializers.BooleanField()
    user_type = serializers.ChoiceField(choices=UserType.choices)
    date_joined = serializers.DateTimeField()


class UserOutputSerializer(MeOutputSerializer):
    """A user as administrators see it."""

    is_active = serializers.BooleanField()
    is_staff = serializers.BooleanField()
    must_change_password = serializers.BooleanField()
    last_login = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()
    profile = ProfileOutputSerializer(allow_null=True)


class EmailDomainRuleOutputSerializer(strict.OutputSerializer):
    id = serializers.IntegerField()
    domain = serializers.CharField()
    action = serializers.ChoiceField(choices=EmailDomainRule.Action.choices)
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TokenPairOutputSerializer(strict.OutputSerializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.ChoiceField(choices=["Bearer"])
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")


class LoginOutputSerializer(TokenPairOutputSerializer):
    id_token = serializers.CharField(
        help_text="OpenID Connect id_token with the claims of the openid, profile and email "
        "scopes, as the OIDC provider's id_token carries them."
    )


class DetailOutputSerializer(strict.OutputSerializer):
    detail = serializers.CharField()
