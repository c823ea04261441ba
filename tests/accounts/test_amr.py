"""How a sign-in was proven: stored methods, the RFC 8176 amr claim, acr and the label users see."""

from __future__ import annotations

import pytest

from accounts.services.mfa.amr import acr_satisfies, acr_value, amr_claim, amr_join, proof_label


@pytest.mark.parametrize(
    ("stored", "claim", "acr", "label"),
    [
        ("pwd", ["pwd"], "pwd", "Password"),
        ("", ["pwd"], "pwd", "Password"),  # a sign-in recorded before factors existed
        ("pwd otp", ["pwd", "otp", "mfa"], "mfa", "Password + Authenticator app"),
        ("pwd rc", ["pwd", "otp", "mfa"], "mfa", "Password + Recovery code"),
        ("hwk", ["hwk", "user", "mfa"], "phr", "Passkey"),
        ("swk", ["swk", "user", "mfa"], "phr", "Passkey"),
        ("pwd hwk", ["pwd", "hwk", "user", "mfa"], "phr", "Password + Passkey"),
    ],
)
def test_stored_methods_map_to_claims_acr_and_label(stored, claim, acr, label):
    assert amr_claim(stored) == claim
    assert acr_value(stored) == acr
    assert proof_label(stored) == label


def test_amr_join_keeps_each_method_once_in_a_stable_order():
    assert amr_join("otp", "pwd otp", ["pwd"]) == "pwd otp"
    assert amr_join("", "hwk") == "hwk"


@pytest.mark.parametrize(
    ("stored", "wanted", "met"),
    [
        ("pwd", "pwd", True),
        ("pwd", "mfa", False),
        ("pwd otp", "mfa", True),
        ("pwd otp", "phr", False),
        ("hwk", "phr", True),
        ("hwk", "mfa", True),
        ("hwk", "unknown-level", False),
    ],
)
def test_acr_satisfies_orders_the_levels(stored, wanted, met):
    assert acr_satisfies(stored, wanted) is met
