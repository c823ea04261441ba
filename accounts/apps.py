"""App config for accounts."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts.models import User

        # Access-token answers remembered by every process carry the user row: a saved or
        # deleted user is forgotten everywhere (the sessions publisher, accounts.signin_memory).
        post_save.connect(_user_changed, sender=User, dispatch_uid="signin-memory-save")
        post_delete.connect(_user_changed, sender=User, dispatch_uid="signin-memory-delete")


def _user_changed(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    if not created and instance.pk is not None:
        from accounts.services.sessions import sign_ins_changed_publish

        sign_ins_changed_publish(user_pks=[instance.pk])
