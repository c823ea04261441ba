"""docs/security.md names the tests that prove each requirement: every name must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"


def _defined_tests() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names.update(re.findall(r"^\s*(?:async )?def (test_\w+)", path.read_text(), re.MULTILINE))
    return names


def test_every_test_named_in_the_security_doc_exists():
    text = DOC.read_text()
    named = set(re.findall(r"\b(test_\w+)\b(?!\.py)", text))
    modules = set(re.findall(r"\b(test_\w+)\.py", text))
    paths = set(re.findall(r"(tests/[\w/]+\.py)", text))
    test_files = {path.stem for path in (ROOT / "tests").rglob("test_*.py")}
    assert sorted(named - _defined_tests()) == []
    assert sorted(modules - test_files) == []
    assert sorted(path for path in paths if not (ROOT / path).exists()) == []
