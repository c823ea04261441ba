"""The one base of every domain refusal: a stable ``code``, an HTTP ``status`` and a message.

Each app defines its own errors on it (accounts/errors.py, authz/errors.py, sso/errors.py);
the API turns any of them into the problem body (identity/api/errors.py), pages show
``message``.
"""

from __future__ import annotations


class ApplicationError(Exception):
    """A refusal the user can act on. Pages show ``message``; the API sends ``code``."""

    code = "error"
    status = 400
    message = "The request could not be completed."
    field: str | None = None
    # Members the API adds to the problem body (RFC 9457 §3.2 extension members): name ->
    # its OpenAPI schema. The value is the error's attribute of that name, when it is set.
    extra_members: dict[str, dict] = {}

    def extra(self) -> dict:
        """The extension members this error carries (never a secret of the account)."""
        return {name: getattr(self, name) for name in self.extra_members if hasattr(self, name)}

    def __init__(
        self, message: str | None = None, *, field: str | None = None, code: str | None = None
    ) -> None:
        self.message = message or self.message
        self.field = field or self.field
        self.code = code or self.code
        super().__init__(self.message)
