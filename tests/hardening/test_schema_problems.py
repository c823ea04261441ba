"""The OpenAPI schema documents the answer every operation gives while the database is down:
503 application/problem+json with the code service_unavailable (identity.api.errors)."""

from __future__ import annotations

from drf_spectacular.generators import SchemaGenerator

from identity.api.errors import PROBLEM_CONTENT_TYPE

METHODS = {"get", "put", "patch", "post", "delete"}


def test_every_operation_documents_the_503_of_a_database_outage() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        f"{method.upper()} {path}": operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }
    assert len(operations) > 50
    missing = {
        label
        for label, operation in operations.items()
        if operation["responses"].get("503", {}).get("content", {}).get(PROBLEM_CONTENT_TYPE)
        != {"schema": {"$ref": "#/components/schemas/Problem503"}}
    }
    assert not missing
    problem = schema["components"]["schemas"]["Problem503"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code", "errors"}
    code = schema["components"]["schemas"]["Problem503CodeEnum"]
    assert code["enum"] == ["service_unavailable"]
