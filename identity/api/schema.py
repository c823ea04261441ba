"""OpenAPI for problem responses: one schema per status whose `code` lists every stable code
that status can carry, served as application/problem+json."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from drf_standardized_errors.openapi import AutoSchema as StandardizedErrorsAutoSchema
from rest_framework import serializers

from identity.api.errors import PROBLEM_CONTENT_TYPE, VALIDATION_ERROR
from identity.api.serializers import InputSerializer
from identity.errors import ApplicationError

# Codes raised by DRF and by our own plumbing; ApplicationError subclasses are added below.
_BUILTIN_CODES: dict[int, list[str]] = {
    400: [VALIDATION_ERROR, "parse_error"],
    401: ["not_authenticated", "authentication_failed", "token_not_valid", "user_inactive"],
    403: ["permission_denied", "insufficient_scope"],
    404: ["not_found"],
    405: ["method_not_allowed"],
    406: ["not_acceptable"],
    409: [],
    413: ["request_too_large"],
    415: ["unsupported_media_type"],
    429: ["throttled"],
    500: ["server_error"],
    # The database is unreachable (identity.api.errors): any operation may answer it.
    503: ["service_unavailable"],
}


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def problem_codes(status: int) -> list[str]:
    """Every code a response of ``status`` may carry: the built-in ones, then the apps' sorted,
    so that the schema does not change when a module moves or imports in another order."""
    codes = list(_BUILTIN_CODES.get(status, []))
    found = {error.code for error in _subclasses(ApplicationError) if error.status == status}
    return codes + sorted(found - set(codes))


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="Input field, dotted when nested.")
    code = serializers.CharField()
    message = serializers.CharField()


class ProblemCodes:
    """The codes of one status, computed when first iterated: by then every module that
    defines an ApplicationError has been imported."""

    def __init__(self, status: int) -> None:
        self.status = status

    def __iter__(self) -> Iterator[str]:
        return iter(problem_codes(self.status))

    def __len__(self) -> int:
        return len(problem_codes(self.status))


class ProblemCodeField(serializers.ChoiceField):
    def __init__(self, status: int, **kwargs: Any) -> None:
        self.status = status
        super().__init__(choices=[], **kwargs)

    @property
    def choices(self) -> dict[str, str]:  # type: ignore[override]
        return {code: code for code in problem_codes(self.status)}

    @choices.setter
    def choices(self, value: Any) -> None:
        """Fixed by the status; ChoiceField's constructor assignment is ignored."""


def problem_extra_members(status: int) -> dict[str, tuple[dict, list[str]]]:
    """The extension members problems of ``status`` may carry: name -> (its schema, the codes
    that carry it), from ApplicationError.extra_members, sorted like the codes."""
    found: dict[str, tuple[dict, list[str]]] = {}
    for error in sorted(_subclasses(ApplicationError), key=lambda error: error.code):
        if error.status != status:
            continue
        for name, schema in error.extra_members.items():
            found.setdefault(name, (schema, []))[1].append(error.code)
    return dict(sorted(found.items()))


def _extra_member_field(name: str, schema: dict, codes: list[str]) -> serializers.Field:
    field_class = extend_schema_field(schema)(
        type(f"ProblemMember_{name}", (serializers.JSONField,), {})
    )
    only = f"Only with code {', '.join(codes)}."
    return field_class(required=False, help_text=f"{schema.get('description', '')} {only}".strip())


# A problem body; the extension members of its status are added when first asked for (like
# ProblemCodes: by then every ApplicationError is defined). No docstring: it would become the
# description of every problem schema.
class ProblemSerializer(serializers.Serializer):
    status_code = 0

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name, (schema, codes) in problem_extra_members(self.status_code).items():
            fields.setdefault(name, _extra_member_field(name, schema, codes))
        return fields


def _problem_serializer(status: int) -> type[serializers.Serializer]:
    attrs: dict[str, Any] = {
        "type": serializers.CharField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "code": ProblemCodeField(status, help_text="Stable machine-readable code."),
        "errors": ProblemFieldErrorSerializer(many=True),
        "status_code": status,
    }
    return type(f"Problem{status}Serializer", (ProblemSerializer,), attrs)


PROBLEM_SERIALIZERS = {status: _problem_serializer(status) for status in _BUILTIN_CODES}
# Module attributes, so that settings can name them (DRF_STANDARDIZED_ERRORS["ERROR_SCHEMAS"]).
Problem400Serializer, Problem401Serializer = PROBLEM_SERIALIZERS[400], PROBLEM_SERIALIZERS[401]
Problem403Serializer, Problem404Serializer = PROBLEM_SERIALIZERS[403], PROBLEM_SERIALIZERS[404]
Problem405Serializer, Problem406Serializer = PROBLEM_SERIALIZERS[405], PROBLEM_SERIALIZERS[406]
Problem409Serializer, Problem413Serializer = PROBLEM_SERIALIZERS[409], PROBLEM_SERIALIZERS[413]
Problem415Serializer, Problem429Serializer = PROBLEM_SERIALIZERS[415], PROBLEM_SERIALIZERS[429]
Problem500Serializer, Problem503Serializer = PROBLEM_SERIALIZERS[500], PROBLEM_SERIALIZERS[503]
# SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] names the per-status code enums with these
# (every such field is called "code", which would otherwise collide).
codes_400, codes_401, codes_403 = ProblemCodes(400), ProblemCodes(401), ProblemCodes(403)
codes_404, codes_405, codes_406 = ProblemCodes(404), ProblemCodes(405), ProblemCodes(406)
codes_409, codes_413, codes_415 = ProblemCodes(409), ProblemCodes(413), ProblemCodes(415)
codes_429, codes_500, codes_503 = ProblemCodes(429), ProblemCodes(500), ProblemCodes(503)
PROBLEM_STATUSES = tuple(_BUILTIN_CODES)


def problems(*statuses: int) -> dict[int, OpenApiResponse]:
    """Extra error responses for extend_schema(responses=...)."""
    return {status: OpenApiResponse(PROBLEM_SERIALIZERS[status]) for status in statuses}


class AutoSchema(StandardizedErrorsAutoSchema):
    def get_serializer_name(self, serializer: Any, direction: str) -> str:
        """``LoginApi.InputSerializer`` becomes ``LoginInput``: nested serializers of different
        views share short names, components must not."""
        outer, _, inner = type(serializer).__qualname__.rpartition(".")
        if outer and "<" not in outer:
            return outer.rpartition(".")[2].removesuffix("Api") + inner
        return super().get_serializer_name(serializer, direction)

    def _map_serializer(
        self, serializer: Any, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, InputSerializer):
            schema["additionalProperties"] = False  # unknown keys are refused (unknown_field)
        return schema

    def _get_response_for_code(
        self,
        serializer: Any,
        status_code: str,
        media_types: list[str] | None = None,
        direction: str = "response",
    ) -> dict[str, Any]:
        if str(status_code)[0] in "45" and not media_types:
            media_types = [PROBLEM_CONTENT_TYPE]
        return super()._get_response_for_code(serializer, status_code, media_types, direction)

    def _get_error_response_examples(self) -> list[Any]:
        """None: drf-standardized-errors' examples show its own error shape ("client_error",
        "attr"), which contradicts the problem schemas these responses document."""
        return []

    def _should_add_error_response(self, responses: dict, status_code: str) -> bool:
        if status_code == "409":
            return False  # only where a view declares it
        if status_code == "413":
            has_body = self.method in ("POST", "PUT", "PATCH") or (
                self.method == "DELETE" and self.get_request_serializer() is not None
            )
            return has_body and status_code not in responses
        return super()._should_add_error_response(responses, status_code)
