"""sso.token_store: the refresh grant's lookup and one-statement rotation, against the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_id_token_model,
    get_refresh_token_model,
    set_token_value,
)

from accounts.models import Channel, UserSession
from sso import token_store
from sso.selectors import token_checksum
from tests.sso.conftest import sign_in

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
IDToken = get_id_token_model()
RefreshToken = get_refresh_token_model()


@pytest.fixture
def issued(client, rp, user) -> dict:
    return sign_in(client, rp, user, scope="openid profile email")


def _load(raw: str):
    return token_store.refresh_token_load(checksum=token_checksum(raw), now=timezone.now())


def _new_tokens(previous, *, with_id_token: bool = True):
    """Unsaved rows as the validator builds them, and their raw values."""
    now = timezone.now()
    id_token = (
        IDToken(
            user=previous.user,
            application=previous.application,
            scope="openid",
            expires=now + timedelta(minutes=5),
        )
        if with_id_token
        else None
    )
    access = AccessToken(
        user=previous.user,
        application=previous.application,
        scope="openid profile email",
        expires=now + timedelta(minutes=15),
        source_refresh_token=previous,
        resource=[],
    )
    set_token_value(access, "new-access-value")
    refresh = RefreshToken(
        user=previous.user,
        application=previous.application,
        token_family=previous.token_family,
        resource=[],
    )
    set_token_value(refresh, "new-refresh-value")
    return id_token, access, refresh


def _rotate(previous, id_token, access, refresh) -> bool:
    return token_store.refresh_token_rotate(
        previous=previous,
        access_token=access,
        refresh_token=refresh,
        id_token=id_token,
        now=timezone.now(),
    )


def test_load_attaches_what_the_grant_checks(issued, rp, user):
    loaded = _load(issued["refresh_token"])
    assert loaded.application_id == rp.app.pk
    assert loaded.application == rp.app
    assert loaded.application.client_secret == rp.app.client_secret  # client authentication
    assert loaded.revoked is None
    assert loaded.sso_session_live is True
    assert loaded.sso_auth_time is not None
    assert loaded.user == user
    assert loaded.user.profile.pk == user.profile.pk
    assert loaded.access_token.token_checksum == token_checksum(issued["access_token"])
    assert loaded.resource == []
    assert loaded.token_family == UserSession.objects.get(user=user, channel=Channel.OAUTH).pk


def test_load_brings_the_client_without_another_query(issued, rp, django_assert_num_queries):
    loaded = _load(issued["refresh_token"])
    with django_assert_num_queries(0):
        assert loaded.application.client_id == rp.client_id


def test_loaded_rows_equal_the_orms_field_by_field(issued, user):
    """Built without Model.__init__ (identity.postgres.instance_from_row): every column, the
    saved state, and no value shared with another load."""
    first, second = _load(issued["refresh_token"]), _load(issued["refresh_token"])
    fresh = RefreshToken.objects.select_related("access_token", "user", "application").get(
        pk=first.pk
    )
    pairs = [
        (first, fresh),
        (first.access_token, fresh.access_token),
        (first.user, fresh.user),
        (first.application, fresh.application),
        (first.user.profile, type(first.user.profile).objects.get(user=user)),
    ]
    for loaded, orm in pairs:
        assert type(loaded) is type(orm)
        for field in type(orm)._meta.concrete_fields:
            assert getattr(loaded, field.attname) == getattr(orm, field.attname), field.name
        assert loaded._state.adding is False
        assert loaded._state.db == "default"
    assert first.created.tzinfo is not None
    first.resource.append("changed")
    assert second.resource == []


def test_load_knows_nothing_of_an_unknown_token(issued):
    assert _load("not-a-token") is None


def test_load_reports_an_ended_session(issued, user):
    UserSession.objects.filter(user=user, channel=Channel.OAUTH).update(revoked_at=timezone.now())
    assert _load(issued["refresh_token"]).sso_session_live is False


def test_rotation_revokes_the_old_pair_and_stores_the_new_one_hashed(issued):
    previous = _load(issued["refresh_token"])
    old_access_pk = previous.access_token.pk
    id_token, access, refresh = _new_tokens(previous)

    assert _rotate(previous, id_token, access, refresh) is True

    previous.refresh_from_db()
    assert previous.revoked is not None
    assert previous.access_token_id is None
    assert not AccessToken.objects.filter(pk=old_access_pk).exists()
    stored_access = AccessToken.objects.get(pk=access.pk)
    stored_refresh = RefreshToken.objects.get(pk=refresh.pk)
    # RFC 9700 token storage: only the SHA-256 of the value is kept.
    assert stored_access.token == stored_refresh.token == ""
    assert stored_access.token_checksum == token_checksum("new-access-value")
    assert stored_refresh.token_checksum == token_checksum("new-refresh-value")
    assert stored_access.id_token_id == id_token.pk
    assert stored_access.source_refresh_token_id == previous.pk
    assert stored_refresh.access_token_id == access.pk
    assert stored_refresh.token_family == previous.token_family
    assert stored_refresh.revoked is None
    assert _load("new-refresh-value").access_token.pk == access.pk


def test_rotation_without_an_id_token(issued):
    previous = _load(issued["refresh_token"])
    _, access, refresh = _new_tokens(previous, with_id_token=False)
    assert _rotate(previous, None, access, refresh) is True
    assert AccessToken.objects.get(pk=access.pk).id_token_id is None


def test_second_rotation_of_one_token_writes_nothing(issued):
    """The loser of two concurrent rotations: the UPDATE claims no row, so nothing is
    inserted and the winner's tokens stay the only children."""
    first, second = _load(issued["refresh_token"]), _load(issued["refresh_token"])
    assert _rotate(first, *_new_tokens(first)) is True
    counts = (AccessToken.objects.count(), RefreshToken.objects.count(), IDToken.objects.count())

    id_token, access, refresh = _new_tokens(second)
    set_token_value(access, "loser-access")
    set_token_value(refresh, "loser-refresh")
    assert _rotate(second, id_token, access, refresh) is False

    assert (
        AccessToken.objects.count(),
        RefreshToken.objects.count(),
        IDToken.objects.count(),
    ) == counts
    assert access.pk is None
    assert refresh.pk is None
    assert _load("loser-refresh") is None


def test_access_token_insert_stores_the_checksum_only(service_rp):
    access = AccessToken(
        application=service_rp.app,
        scope="read",
        expires=timezone.now() + timedelta(minutes=15),
        resource=[],
    )
    set_token_value(access, "service-access-value")
    token_store.access_token_insert(access_token=access)
    stored = AccessToken.objects.get(pk=access.pk)
    assert stored.token == ""
    assert stored.token_checksum == token_checksum("service-access-value")
    assert stored.user_id is None
    assert stored.created is not None
