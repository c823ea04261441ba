"""App config for single sign-on (OAuth 2.0 / OpenID Connect on django-oauth-toolkit)."""

from __future__ import annotations

from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Single sign-on"

    def ready(self) -> None:
        from identity.csp import form_action_hook_register
        from sso.csp import form_action_allow_authorize_next

        # accounts' sign-in pages may send the browser on to a client: sso says which origin.
        form_action_hook_register(form_action_allow_authorize_next)

        from accounts.services.sessions import sign_in_listener_add
        from sso.services import sign_ins_changed

        # The sign-in publisher (accounts.services.sessions.changes) tells sso which sign-ins
        # ended: their OAuth tokens end and leave sso's token cache, whoever ended them.
        sign_in_listener_add(sign_ins_changed)

        from identity.events import SENDERS, target_finder_add
        from sso import backchannel

        # OpenID Connect Back-Channel Logout: an ended OAuth sign-in's application is told.
        target_finder_add(backchannel.backchannel_logout_targets)
        SENDERS[backchannel.KIND] = backchannel.backchannel_logout_request
