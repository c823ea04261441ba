"""A software passkey authenticator (ES256, "none" attestation) for the bench and the tests.

It answers the publicKey options the portal sends (as JSON) with the JSON a browser's
PublicKeyCredential.toJSON() gives, signing with ``cryptography``: no server code is mocked.
Attributes let a test misbehave on purpose (another origin or rp id, no user verification, a
sign count that does not grow).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP, FLAG_UV, FLAG_BE, FLAG_BS, FLAG_AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    user_handle: bytes
    rp_id: str
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    """``origin`` as the browser would report it; ``rp_id`` defaults to the options' rp id."""

    origin: str
    rp_id: str | None = None
    user_verified: bool = True
    synced: bool = False  # backup eligible and backed up (a synced passkey, counter 0)
    counter: bool = True  # False: the sign count stays 0, as synced passkeys do
    credentials: dict[bytes, Credential] = field(default_factory=dict)

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        """navigator.credentials.create({publicKey: options}) → the credential's JSON."""
        rp_id = self.rp_id or options["rp"]["id"]
        credential = Credential(
            credential_id=os.urandom(32),
            key=ec.generate_private_key(ec.SECP256R1()),
            user_handle=b64url_decode(options["user"]["id"]),
            rp_id=rp_id,
        )
        self.credentials[credential.credential_id] = credential
        client_data = self._client_data("webauthn.create", options["challenge"])
        auth_data = self._auth_data(rp_id, FLAG_AT, 0) + self._attested(credential)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        response = {
            "clientDataJSON": b64url(client_data),
            "attestationObject": b64url(attestation),
            "transports": ["internal"],
        }
        return self._credential_json(credential.credential_id, response)

    def get(self, options: dict[str, Any], credential_id: bytes | None = None) -> dict[str, Any]:
        """navigator.credentials.get({publicKey: options}) → the assertion's JSON."""
        credential = self._pick(options, credential_id)
        if self.counter:
            credential.sign_count += 1
        rp_id = self.rp_id or options.get("rpId") or credential.rp_id
        client_data = self._client_data("webauthn.get", options["challenge"])
        auth_data = self._auth_data(rp_id, 0, credential.sign_count)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = credential.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        response = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
            "userHandle": b64url(credential.user_handle),
        }
        return self._credential_json(credential.credential_id, response)

    def _pick(self, options: dict[str, Any], credential_id: bytes | None) -> Credential:
        if credential_id is not None:
            return self.credentials[credential_id]
        allowed = [b64url_decode(c["id"]) for c in options.get("allowCredentials") or []]
        for candidate in allowed or list(self.credentials):
            if candidate in self.credentials:
                return self.credentials[candidate]
        raise LookupError("no credential for these options")

    def _client_data(self, kind: str, challenge: str) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        return json.dumps(data, separators=(",", ":")).encode()

    def _auth_data(self, rp_id: str, extra_flags: int, sign_count: int) -> bytes:
        flags = FLAG_UP | extra_flags
        if self.user_verified:
            flags |= FLAG_UV
        if self.synced:
            flags |= FLAG_BE | FLAG_BS
        rp_hash = hashlib.sha256(rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", sign_count)

    @staticmethod
    def _attested(credential: Credential) -> bytes:
        numbers = credential.key.public_key().public_numbers()
        cose = {
            1: 2,
            3: -7,
            -1: 1,
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
        credential_id = credential.credential_id
        aaguid = bytes(16)
        return aaguid + struct.pack(">H", len(credential_id)) + credential_id + cbor2.dumps(cose)

    @staticmethod
    def _credential_json(credential_id: bytes, response: dict[str, str]) -> dict[str, Any]:
        return {
            "id": b64url(credential_id),
            "rawId": b64url(credential_id),
            "type": "public-key",
            "response": response,
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }
