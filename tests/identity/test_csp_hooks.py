"""The sign-in page's CSP form-action is widened through hooks the higher apps register with
identity.csp: accounts' pages know no application, sso says which origin a client may add."""

from __future__ import annotations

from django.http import HttpResponse

from identity import csp
from sso.csp import form_action_allow_authorize_next


def test_sso_registers_its_authorize_hook():
    assert form_action_allow_authorize_next in csp._next_hooks


def test_registering_twice_keeps_one_hook(monkeypatch):
    monkeypatch.setattr(csp, "_next_hooks", [])
    csp.form_action_hook_register(form_action_allow_authorize_next)
    csp.form_action_hook_register(form_action_allow_authorize_next)
    assert csp._next_hooks == [form_action_allow_authorize_next]


def test_every_registered_hook_sees_the_next_url(monkeypatch, settings):
    seen = []

    def hook(response: HttpResponse, *, next_url: str) -> HttpResponse:
        seen.append(next_url)
        return csp.form_action_allow(response, redirect_uri="https://client.example/cb")

    monkeypatch.setattr(csp, "_next_hooks", [hook])
    response = csp.form_action_allow_next(HttpResponse(), next_url="/somewhere/")
    assert seen == ["/somewhere/"]
    assert "form-action 'self' https://client.example" in response["Content-Security-Policy"]


def test_without_hooks_the_policy_is_untouched(monkeypatch):
    monkeypatch.setattr(csp, "_next_hooks", [])
    response = csp.form_action_allow_next(HttpResponse(), next_url="/o/authorize/?client_id=x")
    assert "Content-Security-Policy" not in response
