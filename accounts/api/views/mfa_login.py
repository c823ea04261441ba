"""The API's second sign-in step: a factor for the ``mfa_token`` the password step returned."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.serializers import LoginOutputSerializer
from accounts.api.views.auth import session_start
from accounts.api.views.base import ThrottledPublicApi, no_store
from accounts.errors import AccountLocked
from accounts.lockout import retry_after_seconds
from accounts.models import Channel, PendingSignIn
from accounts.services.login import sign_in_complete
from accounts.services.mfa import MFA_METHODS, Proof
from accounts.services.mfa.pending import sign_in_factor_prove, sign_in_pending_get
from accounts.services.passwords import account_confirm, password_choice_check
from identity.api import serializers as strict
from identity.api.schema import problems
from identity.api.serializers import validated


@no_store
class LoginMfaApi(ThrottledPublicApi):
    """Finishes a sign-in with a code of the authenticator app, a recovery code or a passkey's
    assertion; only now are tokens issued. Wrong proofs count towards the account's lockout
    (username + IP) as wrong passwords do, and the step dies after MFA_MAX_ATTEMPTS."""

    throttle_scope = "login"

    class InputSerializer(strict.InputSerializer):
        mfa_token = strict.CharField(max_length=200, help_text="From the 403 `mfa_required`.")
        method = strict.ChoiceField(choices=MFA_METHODS)
        code = strict.CharField(
            max_length=64, required=False, help_text="For totp and recovery_code."
        )
        credential = serializers.DictField(
            required=False,
            help_text="For webauthn: the assertion (PublicKeyCredential as JSON) answering "
            "the options of /api/v1/auth/login/mfa/webauthn/options/.",
        )
        new_password = strict.PasswordField(
            required=False,
            help_text="Only after /api/v1/auth/confirm-account/ (a temporary password): the "
            "password the account chooses, set once the factor is proven.",
        )

    @extend_schema(
        operation_id="auth_login_mfa",
        request=InputSerializer,
        responses={200: LoginOutputSerializer, **problems(400, 403, 429)},
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request)
        pending = api_pending(data["mfa_token"])
        new_password = data.get("new_password")
        password_choice_check(user=pending.user, new_password=new_password)
        proof = Proof(
            method=data["method"],
            code=data.get("code", ""),
            credential=data.get("credential"),
            challenge=pending.webauthn_challenge,
        )
        try:
            amr = sign_in_factor_prove(request=request._request, pending=pending, proof=proof)
        except AccountLocked as error:
            error.retry_after = retry_after_seconds(request._request)  # type: ignore[attr-defined]
            raise
        user, event = sign_in_complete(request=request._request, pending=pending, amr=amr)
        if new_password:
            account_confirm(user=user, new_password=new_password)
        return Response(session_start(request, user, amr=event.amr))


def api_pending(token: str) -> PendingSignIn:
    """The API's live step to verify a factor (an enrolment step is the pages')."""
    return sign_in_pending_get(
        token=token, channel=Channel.API, purpose=PendingSignIn.Purpose.VERIFY
    )
