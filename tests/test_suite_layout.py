"""The test suite's own layout: one set of sign-in helpers, and files named after behaviour."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# A module that signs in through the API, or builds a Bearer client, uses the fixtures of
# tests/conftest.py (api_tokens, bearer_client, signed_in_api): a private copy drifts.
SIGN_IN_HELPER = re.compile(r"_?(bearer|bearer_of|api_login|login|authed|sign_in)")
# Helpers of those names that do something else on purpose, each in its one place.
PURPOSE_HELPERS = {
    ("e2e/conftest.py", "sign_in"),  # the sign-in page in Chromium
    ("sso/conftest.py", "sign_in"),  # the OAuth code flow with PKCE
}
# Directly under tests/: only tests of the repository itself; identity's are in tests/identity.
TOP_LEVEL_TESTS = {"test_readme.py", "test_readme_snippets.py", "test_suite_layout.py"}
NAMED_AFTER_AN_ISSUE = re.compile(
    r"(^|_)(issue_?\d+|item_?\d+|review_follow_?ups?|follow_?ups?|done_when|acceptance|story)(_|$)"
)


def _modules() -> list[Path]:
    return sorted(TESTS.rglob("*.py"))


def _functions(path: Path) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse(path.read_text(), filename=str(path))
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
    return [node for node in tree.body if isinstance(node, kinds)]


def test_no_module_keeps_its_own_api_sign_in_or_bearer_helper() -> None:
    copies = [
        f"{path.relative_to(TESTS)}:{node.lineno} {node.name}"
        for path in _modules()
        if path != TESTS / "conftest.py"
        for node in _functions(path)
        if SIGN_IN_HELPER.fullmatch(node.name)
        and (str(path.relative_to(TESTS)), node.name) not in PURPOSE_HELPERS
    ]
    assert copies == []


def test_the_shared_sign_in_fixtures_exist() -> None:
    names = {node.name for node in _functions(TESTS / "conftest.py")}
    assert {"api_tokens", "bearer_client", "signed_in_api", "user_api", "admin_api"} <= names


def test_only_tests_of_the_repository_sit_directly_under_tests() -> None:
    top_level = {path.name for path in TESTS.glob("test_*.py")}
    assert top_level <= TOP_LEVEL_TESTS
    assert (TESTS / "identity" / "__init__.py").exists()


def test_test_files_and_functions_are_named_after_behaviour_not_an_issue() -> None:
    named_after_an_issue = [
        str(path.relative_to(TESTS))
        for path in _modules()
        if path.name.startswith("test_") and NAMED_AFTER_AN_ISSUE.search(path.stem)
    ] + [
        f"{path.relative_to(TESTS)}::{node.name}"
        for path in _modules()
        for node in _functions(path)
        if node.name.startswith("test_") and NAMED_AFTER_AN_ISSUE.search(node.name)
    ]
    assert named_after_an_issue == []
