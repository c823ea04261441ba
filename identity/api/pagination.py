"""Page-number pagination with bounded page sizes: {count, next, previous, results}."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class PageNumberPagination(PageNumberPagination):
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request: Request) -> int:
        """A malformed page_size is refused (400) rather than silently replaced by the default;
        a large one is capped."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError(
                {"page_size": ["Enter a whole number from 1 upwards."]}, code="invalid"
            )
        return min(size, self.max_page_size)

    def get_page_number(self, request: Request, paginator: object) -> int | str:
        """A malformed page (``?page=``, ``?page=abc``, ``?page=0``) is refused (400): DRF would
        serve the first page for an empty one. A page past the last is DRF's 404."""
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if raw in self.last_page_strings:
            return raw
        number = int(raw) if raw.isascii() and raw.isdigit() else 0
        if number < 1:
            message = "Enter a whole number from 1 upwards."
            raise ValidationError({"page": [message]}, code="invalid")
        return number

    def get_schema_operation_parameters(self, view: object) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Results per page: {self.page_size} by default, at most "
                    f"{self.max_page_size} (larger values are capped)."
                )
        return parameters
