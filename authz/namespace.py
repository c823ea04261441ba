"""The line between authz permission codes and Django's own ``app_label.codename`` permissions.

Django asks every authentication backend ``has_perm("accounts.change_user")`` before it opens
an admin form. Were authz to answer such a string, a role carrying the code
``accounts.change_user`` would open the admin's user form (where ``is_superuser`` is ticked):
issue 16.3. So an authz code may never be a name Django's permission system could ask for:
``<installed app label>.<codename>`` where the codename is one Django makes for a model
(``add_``, ``change_``, ``delete_``, ``view_`` followed by anything, so that a model added later
is covered too) or one an app declares (``Meta.permissions``) or stores (``auth_permission``).

Why not refuse every code starting with an app label: the portal's own ``authz.check`` and
``sessions.revoke`` do, are public contract, and can never be Django permissions (neither app
has such a codename); renaming them would break every client that checks them.
"""

from __future__ import annotations

from functools import lru_cache

from django.apps import apps as global_apps
from django.apps.registry import Apps

DJANGO_DEFAULT_ACTIONS = ("add_", "change_", "delete_", "view_")


def _declared_codenames(app_label: str, registry: Apps) -> frozenset[str]:
    try:
        config = registry.get_app_config(app_label)
    except LookupError:
        return frozenset()
    return frozenset(
        codename for model in config.get_models() for codename, _ in model._meta.permissions
    )


def is_django_permission_name(code: str, *, registry: Apps | None = None) -> bool:
    """True when Django's permission system could ask for ``code`` (no database read)."""
    if registry is None:
        return _is_django_permission_name_installed(code)
    return _is_django_permission_name(code, registry)


@lru_cache(maxsize=4096)
def _is_django_permission_name_installed(code: str) -> bool:
    # The backend asks on every admin check; the installed apps do not change while running.
    return _is_django_permission_name(code, global_apps)


def _is_django_permission_name(code: str, registry: Apps) -> bool:
    app_label, _, codename = code.partition(".")
    if app_label not in {config.label for config in registry.get_app_configs()}:
        return False
    return codename.startswith(DJANGO_DEFAULT_ACTIONS) or codename in _declared_codenames(
        app_label, registry
    )


def reserved_message(code: str) -> str:
    app_label = code.partition(".")[0]
    return (
        f"{code} has the form of a Django permission of the app {app_label}; "
        "authz codes must not, or they would answer for Django's own permissions."
    )
