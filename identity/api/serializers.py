"""Strict input parsing for API bodies (unknown keys and loosely typed values are refused), and
the base of response serializers."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request


class InputSerializer(serializers.Serializer):
    """Refuses keys it does not declare (a typo must not be silently ignored); read-only
    fields are declared so that a client may send back what it read."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise ValidationError(
                    {key: [ErrorDetail("Unknown field.", code="unknown_field")] for key in unknown}
                )
        return super().to_internal_value(data)


class OutputSerializer(serializers.Serializer):
    """A response serializer: its fields are copied shallowly for each instance.

    DRF deep-copies declared fields for every serializer instance, which re-runs every
    field's ``__init__`` and costs about a tenth of a one-query API request. Rendering only
    binds fields (name, parent) and reads them, so a shallow copy per instance is enough;
    nested serializers are still deep-copied, being serializers with fields of their own.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            name: copy.deepcopy(field)
            if isinstance(field, serializers.BaseSerializer)
            else copy.copy(field)
            for name, field in self._declared_fields.items()
        }

    @classmethod
    def represent(cls, instance: Any) -> dict[str, Any]:
        """``cls(instance).data``, without building the serializer and its fields each time.

        DRF's own ``to_representation`` runs on one unbound instance of the class kept per
        process; it reads its fields and keeps no state, so hot read endpoints may share it.
        """
        prototype = cls.__dict__.get("_prototype")
        if prototype is None:
            prototype = cls()
            prototype.fields  # noqa: B018 - bind the fields once, here
            cls._prototype = prototype
        return prototype.to_representation(instance)


class _StrictString:
    """Only a JSON string is a string: DRF would otherwise turn 42 into "42"."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")  # type: ignore[attr-defined]
        return super().to_internal_value(data)  # type: ignore[misc]


class CharField(_StrictString, serializers.CharField):
    default_error_messages = {"invalid": "Enter a string."}


class EmailField(_StrictString, serializers.EmailField):
    pass


class ChoiceField(_StrictString, serializers.ChoiceField):
    default_error_messages = {"invalid": "Enter a string."}


class BooleanField(serializers.BooleanField):
    """Only JSON true and false: "yes" or 1 are refused."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class PasswordField(CharField):
    """Never trimmed (spaces may be part of a password) and bounded before hashing."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("max_length", 4096)
        kwargs.setdefault("style", {"input_type": "password"})
        super().__init__(**kwargs)


def validated(serializer_class: type, request: Request, **kwargs: Any) -> dict[str, Any]:
    """The request body through ``serializer_class``: its validated data, or the 400 problem
    that lists every field's error."""
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
