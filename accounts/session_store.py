"""Database sessions that write a new session once, when the response goes out.

Django's database store INSERTs a session the moment ``cycle_key()`` makes its key (inside
``login()``), after a SELECT that checks the key is free, then UPDATEs the same row at the end
of the request: seven statements and two commits per sign-in. This store keeps the new key in
memory and INSERTs the finished session once. Enable with
``SESSION_ENGINE = "accounts.session_store"``.
"""

from __future__ import annotations

from contextlib import nullcontext

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError
from django.db import IntegrityError, router, transaction
from django.utils.crypto import get_random_string

from identity.postgres import rows_insert


class SessionStore(db.SessionStore):
    _unsaved = False  # a key made in this request and not yet written

    def _get_new_session_key(self) -> str:
        # 32 characters of 36: 165 random bits. The primary key refuses the astronomically
        # unlikely clash at INSERT time; a SELECT beforehand would only add a round trip.
        return get_random_string(32, VALID_KEY_CHARS)

    def create(self) -> None:
        """A new key, in memory only: ``save()`` INSERTs the session with its final data."""
        self._session_key = self._get_new_session_key()
        self._unsaved = True
        self.modified = True

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            self._session_key = self._get_new_session_key()
            self._unsaved = True
        if self._unsaved:
            self._insert()
            return
        super().save(must_create=must_create)

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None and self._unsaved:
            self._session_key, self._unsaved = None, False  # never written: nothing to delete
            return
        super().delete(session_key)

    def _insert(self) -> None:
        obj = self.create_model_instance(self._get_session(no_load=True))
        using = router.db_for_write(self.model, instance=obj)
        # Inside a transaction a savepoint keeps a failed INSERT from aborting it; on its own
        # the single statement needs no BEGIN/COMMIT around it.
        in_block = transaction.get_connection(using).in_atomic_block
        try:
            with transaction.atomic(using=using) if in_block else nullcontext():
                rows_insert(obj)
        except IntegrityError as error:
            # The key may already be recorded elsewhere (a UserSession row): no silent re-key.
            raise CreateError from error
        self._unsaved = False
