"""Retention: DOT's cleartokens works with the portal's models (sso.SignIn points at grants,
refresh tokens are rotated by sso.oauth_validators) and deletes in batches; then
purge_sso_sign_ins drops the sign-in rows left behind, in batches too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings

from accounts.models import UserSession
from sso.models import SignIn
from tests.sso.conftest import authorize, pkce_pair, query, refresh, sign_in

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
Grant = get_grant_model()
IDToken = get_id_token_model()
RefreshToken = get_refresh_token_model()
BATCH = 2


def _deletes(queries: CaptureQueriesContext, table: str) -> int:
    deletes = [q["sql"].split('"')[1] for q in queries.captured_queries if q["sql"][:6] == "DELETE"]
    return deletes.count(table)


def _age(sids: list[str]) -> None:
    """Makes these sign-ins look 31 days old: access tokens expired past the refresh lifetime."""
    past = timezone.now() - timedelta(days=31)
    families = RefreshToken.objects.filter(token_family__in=sids)
    AccessToken.objects.filter(refresh_token__in=families).update(expires=past)
    IDToken.objects.filter(application__sign_ins__in=sids).update(expires=past)
    families.filter(revoked__isnull=False).update(revoked=past)
    UserSession.objects.filter(pk__in=sids).update(expires_at=past)


def test_cleartokens_deletes_expired_tokens_in_batches(client, rp, user, monkeypatch) -> None:
    monkeypatch.setattr(oauth2_settings, "CLEAR_EXPIRED_TOKENS_BATCH_SIZE", BATCH)
    old = [sign_in(client, rp, user) for _ in range(5)]
    rotated = refresh(client, rp, old[0]["refresh_token"])  # leaves one revoked token behind
    assert rotated.status_code == 200
    old_sids = [str(pk) for pk in SignIn.objects.values_list("pk", flat=True)]
    _age(old_sids)
    live = sign_in(client, rp, user)
    client.force_login(user)
    _, challenge = pkce_pair()
    pending = query(authorize(client, rp, challenge=challenge))["code"]  # not yet exchanged

    with CaptureQueriesContext(connection) as queries:
        call_command("cleartokens")

    assert not RefreshToken.objects.filter(token_family__in=old_sids).exists()
    assert _deletes(queries, "oauth2_provider_refreshtoken") >= 3  # 5 expired + 1 revoked, by 2
    assert _deletes(queries, "oauth2_provider_accesstoken") >= 3
    assert _deletes(queries, "oauth2_provider_grant") >= 3  # 6 consumed codes
    # What is live stays: the new sign-in's tokens and the pending code.
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1
    assert Grant.objects.filter(code=pending).exists()
    info = client.get(
        reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=f"Bearer {live['access_token']}"
    )
    assert info.status_code == 200
    # Consumed codes are gone; sso.SignIn rows survive with no grant (SET_NULL).
    assert SignIn.objects.filter(grant__isnull=True).count() == 6


def test_purge_sso_sign_ins_drops_stale_rows_in_batches(client, rp, user) -> None:
    old = [sign_in(client, rp, user) for _ in range(5)]
    assert len(old) == 5
    old_sids = [str(pk) for pk in SignIn.objects.values_list("pk", flat=True)]
    _age(old_sids)
    live = sign_in(client, rp, user)
    _, challenge = pkce_pair()
    pending = query(authorize(client, rp, challenge=challenge))["code"]
    call_command("cleartokens")
    # A code never exchanged and deleted by cleartokens: its sign-in goes too.
    abandoned = SignIn.objects.get(grant__code=pending)
    Grant.objects.filter(code=pending).delete()

    with CaptureQueriesContext(connection) as queries:
        call_command("purge_sso_sign_ins", batch_size=BATCH)

    assert _deletes(queries, "sso_signin") == 3  # 6 stale rows, 2 per DELETE
    assert not SignIn.objects.filter(pk__in=[*old_sids, abandoned.pk]).exists()
    assert SignIn.objects.count() == 1  # the live sign-in, whose code is consumed but whose
    # session still runs: its auth_time is read on every refresh
    refreshed = refresh(client, rp, live["refresh_token"])
    assert refreshed.status_code == 200, refreshed.content
