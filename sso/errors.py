"""Domain errors of single sign-on, each with a stable machine-readable code."""

from __future__ import annotations

from identity.errors import ApplicationError


class ApplicationNameTaken(ApplicationError):
    code = "application_name_taken"
    status = 409
    message = "You already have an application with this name."
    field = "name"


class NotVerified(ApplicationError):
    code = "email_not_verified"
    status = 403
    message = "Verify your email address before registering applications."


class NotConfidential(ApplicationError):
    code = "not_confidential"
    status = 400
    message = "Only confidential applications have a client secret."


class UnknownApplication(ApplicationError):
    code = "invalid_client_id"
    status = 400
    message = "No application has this client_id."
    field = "client_id"


class NotTrusted(ApplicationError):
    code = "application_not_trusted"
    status = 400
    message = (
        "Only a confidential client-credentials application an administrator trusts may "
        "have a service account."
    )


class InvitationInvalid(ApplicationError):
    """Unknown, expired, withdrawn, used or another account's: one answer for all."""

    code = "invitation_invalid"
    status = 404
    message = "This invitation link is not valid."
