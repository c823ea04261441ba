"""Serializers of the applications and connected-apps API."""

from __future__ import annotations

from rest_framework import serializers

from identity.api import serializers as strict
from sso.models import Application, ApplicationMember, Consent


class ApplicationOutputSerializer(serializers.ModelSerializer):
    owner = serializers.UUIDField(source="user.public_id", read_only=True)
    redirect_uris = serializers.SerializerMethodField()
    post_logout_redirect_uris = serializers.SerializerMethodField()
    allowed_scopes = serializers.SerializerMethodField()
    grant_type = serializers.CharField(source="authorization_grant_type")
    created_at = serializers.DateTimeField(source="created")
    updated_at = serializers.DateTimeField(source="updated")

    class Meta:
        model = Application
        fields = (
            "client_id",
            "name",
            "description",
            "homepage_url",
            "logo_url",
            "client_type",
            "grant_type",
            "redirect_uris",
            "post_logout_redirect_uris",
            "allowed_scopes",
            "restricted",
            "backchannel_logout_uri",
            "backchannel_logout_session_required",
            "is_first_party",
            "owner",
            "created_at",
            "updated_at",
        )

    def get_redirect_uris(self, app: Application) -> list[str]:
        return app.redirect_uris.split()

    def get_post_logout_redirect_uris(self, app: Application) -> list[str]:
        return app.post_logout_redirect_uris.split()

    def get_allowed_scopes(self, app: Application) -> list[str]:
        return app.scope_list


class ApplicationWithSecretSerializer(ApplicationOutputSerializer):
    client_secret = serializers.SerializerMethodField(
        help_text="Shown only in this response; the portal stores a hash."
    )

    class Meta(ApplicationOutputSerializer.Meta):
        fields = (*ApplicationOutputSerializer.Meta.fields, "client_secret")

    def get_client_secret(self, app: Application) -> str | None:
        return self.context.get("client_secret")


class ApplicationInputSerializer(strict.InputSerializer):
    name = strict.CharField(max_length=255)
    description = strict.CharField(max_length=1000, required=False, allow_blank=True)
    homepage_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    logo_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    redirect_uris = serializers.ListField(child=serializers.CharField(), required=False)
    post_logout_redirect_uris = serializers.ListField(child=serializers.CharField(), required=False)
    allowed_scopes = serializers.ListField(child=serializers.CharField(), required=False)
    restricted = serializers.BooleanField(required=False)
    backchannel_logout_uri = serializers.URLField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="Where the portal POSTs a logout token (OpenID Connect Back-Channel Logout "
        "1.0): https, a public host, no fragment.",
    )
    backchannel_logout_session_required = serializers.BooleanField(required=False)

    def validate(self, attrs: dict) -> dict:
        for key in ("redirect_uris", "post_logout_redirect_uris", "allowed_scopes"):
            if key in attrs:
                attrs[key] = " ".join(attrs[key])
        return attrs


class ApplicationCreateInputSerializer(ApplicationInputSerializer):
    client_type = serializers.ChoiceField(choices=Application.CLIENT_TYPES)
    service = serializers.BooleanField(
        required=False, default=False, help_text="Client credentials only (no users)."
    )


class ApplicationUpdateInputSerializer(ApplicationInputSerializer):
    name = strict.CharField(max_length=255, required=False)


class MemberOutputSerializer(serializers.ModelSerializer):
    user = serializers.UUIDField(source="user.public_id")
    username = serializers.CharField(source="user.username")

    class Meta:
        model = ApplicationMember
        fields = ("user", "username", "created_at")


class MemberInputSerializer(strict.InputSerializer):
    login = strict.CharField(
        max_length=254, required=False, help_text="The username or email address to invite."
    )
    user = serializers.UUIDField(
        required=False, help_text="Or the public id of the account to invite (older clients)."
    )

    def validate(self, attrs: dict) -> dict:
        if bool(attrs.get("login")) == bool(attrs.get("user")):
            raise serializers.ValidationError("Give either login or user.", code="invalid")
        return attrs


class InvitationOutputSerializer(serializers.Serializer):
    """What the owner typed, the same for every invitation, whether or not an account matches."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    login = serializers.CharField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)


class ConnectedAppOutputSerializer(serializers.ModelSerializer):
    client_id = serializers.CharField(source="application.client_id")
    name = serializers.CharField(source="application.name")
    homepage_url = serializers.CharField(source="application.homepage_url")
    logo_url = serializers.CharField(source="application.logo_url")
    scopes = serializers.SerializerMethodField()
    authorized_at = serializers.DateTimeField(source="created_at")
    last_used_at = serializers.DateTimeField()

    class Meta:
        model = Consent
        fields = (
            "client_id",
            "name",
            "homepage_url",
            "logo_url",
            "scopes",
            "authorized_at",
            "last_used_at",
        )

    def get_scopes(self, consent: Consent) -> list[str]:
        return consent.scope.split()
