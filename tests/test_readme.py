"""The README cannot drift from the code: its settings table against the environment variables
``identity/settings.py`` reads, its commands against the Makefile and the management commands."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SETTINGS = ROOT / "identity" / "settings.py"
MAKEFILE = (ROOT / "Makefile").read_text()

# django-environ's readers (environ.Env): env("X"), env.str("X"), env.db("X"), ...
ENV_READERS = {
    "str",
    "bool",
    "int",
    "float",
    "json",
    "list",
    "tuple",
    "dict",
    "url",
    "path",
    "bytes",
    "decimal",
    "parse_value",
    "get_value",
    "db",
    "db_url",
    "cache",
    "cache_url",
    "email",
    "email_url",
    "search_url",
    "channels",
    "channels_url",
}
NAME = re.compile(r"`([A-Z][A-Z0-9_]*)`")


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _read_name(node: ast.AST) -> ast.AST | None:
    """The name argument when ``node`` reads the environment, else None."""
    if isinstance(node, ast.Call):
        func = node.func
        env_call = (isinstance(func, ast.Name) and func.id == "env") or (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "env"
            and func.attr in ENV_READERS
        )
        os_call = isinstance(func, ast.Attribute) and (
            (_is_os_environ(func.value) and func.attr in {"get", "setdefault", "pop"})
            or (
                isinstance(func.value, ast.Name) and func.value.id == "os" and func.attr == "getenv"
            )
        )
        if env_call or os_call:
            return node.args[0] if node.args else ast.Constant(None)
    if isinstance(node, ast.Subscript) and _is_os_environ(node.value):
        return node.slice
    if isinstance(node, ast.Compare) and any(_is_os_environ(c) for c in node.comparators):
        return node.left
    return None


def environment_reads(path: Path) -> dict[str, int]:
    """Every variable the module reads, with the line of its first read.

    A read whose name is not a string literal fails: the table could not be checked against it.
    """
    reads: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        name = _read_name(node)
        if name is None:
            continue
        literal = isinstance(name, ast.Constant) and isinstance(name.value, str)
        assert literal, (
            f"{path.name}:{node.lineno} reads an environment variable whose name is not a "
            "string literal; name it literally so the README check can see it"
        )
        reads.setdefault(name.value, node.lineno)
    return reads


def readme_section(title: str) -> str:
    """The text under a ``## `` or ``### `` heading, up to the next heading of any level."""
    match = re.search(rf"^#{{2,3}} {re.escape(title)}\n(.*?)(?=^#{{1,3}} |\Z)", README, re.M | re.S)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def table_names(text: str, header: str) -> set[str]:
    """The backticked names in the first column of the table that starts with ``header``."""
    start = text.index(header)
    names: set[str] = set()
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        names.update(NAME.findall(line.split("|")[1]))
    return names


SETTINGS_TABLE = "| Variable | Default | Meaning |"
RUNNER_TABLE = "| Variable | Meaning |"


def test_settings_reads_exist_and_the_parser_sees_them() -> None:
    reads = environment_reads(SETTINGS)
    # A sample across the ways the settings read: str, db, cache, float, email_url, list.
    assert {"DJANGO_ENV", "DATABASE_URL", "CACHE_URL", "CACHE_SOCKET_TIMEOUT", "EMAIL_URL"} <= set(
        reads
    )
    assert "TRUSTED_PROXIES" in reads


def test_readme_settings_table_lists_every_variable_the_settings_read() -> None:
    reads = environment_reads(SETTINGS)
    documented = table_names(readme_section("Configuration"), SETTINGS_TABLE)
    missing = sorted(set(reads) - documented)
    assert not missing, "read by identity/settings.py but not in the README's settings table: " + (
        ", ".join(f"{name} (line {reads[name]})" for name in missing)
    )


def test_readme_settings_table_lists_only_variables_the_settings_read() -> None:
    documented = table_names(readme_section("Configuration"), SETTINGS_TABLE)
    stale = sorted(documented - set(environment_reads(SETTINGS)))
    assert not stale, "in the README's settings table but never read by identity/settings.py: " + (
        ", ".join(stale)
    )


def test_readme_runner_table_matches_what_the_test_runner_reads() -> None:
    """The second table: variables the test runner, the browser tests and CI read."""
    documented = table_names(readme_section("Configuration"), RUNNER_TABLE)
    settings_table = table_names(readme_section("Configuration"), SETTINGS_TABLE)
    runner_files = [ROOT / "tests" / "run.py", ROOT / "tests" / "e2e" / "conftest.py"]
    read = {name for path in runner_files for name in environment_reads(path)}
    # The browser harness sets this one for Playwright; nobody configures it.
    read.discard("DJANGO_ALLOW_ASYNC_UNSAFE")
    missing = sorted(read - documented - settings_table)
    assert not missing, "read by the test runner but not in the README: " + ", ".join(missing)
    everywhere = {name for path in ROOT.glob("tests/**/*.py") for name in environment_reads(path)}
    shell = MAKEFILE + (ROOT / ".ci" / "run").read_text()
    stale = sorted(name for name in documented if name not in everywhere and name not in shell)
    assert not stale, "in the README's runner table but read nowhere: " + ", ".join(stale)


def make_targets() -> set[str]:
    """Every rule of the Makefile a developer may type (not the file targets such as $(PY))."""
    return set(re.findall(r"^([a-z][a-z0-9-]*):(?!=)", MAKEFILE, re.M))


def make_help_targets() -> set[str]:
    help_rule = MAKEFILE.split("\nhelp:\n", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r'@echo "make ([a-z][a-z0-9-]*)', help_rule))


def test_make_help_lists_every_target_and_they_are_phony() -> None:
    targets = make_targets() - {"help"}
    assert make_help_targets() == targets, "`make help` and the Makefile's rules disagree"
    phony = set(re.search(r"^\.PHONY:(.*)$", MAKEFILE, re.M).group(1).split())
    assert targets <= phony, "not in .PHONY: " + ", ".join(sorted(targets - phony))


def test_readme_mentions_every_make_target() -> None:
    missing = sorted(t for t in make_help_targets() if not re.search(rf"make {t}\b", README))
    assert not missing, "make targets the README does not mention: " + ", ".join(missing)


def management_commands() -> set[str]:
    return {
        path.stem
        for path in ROOT.glob("*/management/commands/*.py")
        if not path.stem.startswith("_")
    }


def test_readme_mentions_every_management_command() -> None:
    commands = management_commands()
    assert {"purge_login_history", "purge_sso_sign_ins", "ensure_signing_key"} <= commands
    missing = sorted(c for c in commands if not re.search(rf"manage\.py {c}\b", README))
    assert not missing, "management commands the README does not mention: " + ", ".join(missing)


def test_readme_schedules_every_purge_command() -> None:
    """What deletes stale rows must be in the table of commands worth scheduling."""
    start = README.index("Management commands worth scheduling")
    table = README[start:].split("\n\n", 2)[1]
    missing = sorted(
        c
        for c in management_commands()
        if c.startswith("purge_") and f"`manage.py {c}`" not in table
    )
    assert not missing, "purge commands missing from 'worth scheduling': " + ", ".join(missing)
