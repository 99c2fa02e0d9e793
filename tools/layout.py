"""``python -m tools.layout``: the codebase's layout rules, checked.

A production module (everything under services/ and shared/) stays within
MAX_MODULE_LINES lines and each of its functions within MAX_FUNCTION_LINES, and no production
package imports tools/ or tests/ when it is imported (a command may import development tooling
inside the function that runs it). Alembic revisions are exempt from the function length: their
upgrade() is a generated listing of the schema. Known exceptions are listed, each with its reason, in
tools/layout_exceptions.txt; anything else fails, and so does a listed exception that no longer
occurs, so the list only shrinks.
"""
from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = ("services", "shared")
DEVELOPMENT_PACKAGES = ("tools", "tests")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
EXCEPTIONS_FILE = Path(__file__).with_name("layout_exceptions.txt")


@dataclass(frozen=True, order=True)
class Finding:
    """One broken rule; ``key`` is how the exceptions file names it."""

    key: str
    message: str


def production_modules(root: Path) -> list[Path]:
    return sorted(p for package in PRODUCTION for p in (root / package).rglob("*.py") if "__pycache__" not in p.parts)


def _functions(tree: ast.AST):
    """Every function with its qualified name (Class.method, outer.inner)."""
    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    yield name, child
                yield from walk(child, name + ".")
            else:
                yield from walk(child, prefix)
    yield from walk(tree, "")


def _import_time_imports(tree: ast.Module):
    """Imports that run when the module is imported: not those inside a function body."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Import):
            yield node.lineno, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, [node.module]
        stack.extend(ast.iter_child_nodes(node))


def check_module(path: Path, root: Path) -> list[Finding]:
    relative = path.relative_to(root).as_posix()
    source = path.read_text(encoding="utf-8")
    findings = []
    lines = len(source.splitlines())
    if lines > MAX_MODULE_LINES:
        findings.append(Finding(relative, f"{relative}: {lines} lines (at most {MAX_MODULE_LINES})"))
    tree = ast.parse(source, filename=relative)
    # An Alembic revision's upgrade() is a generated listing of the schema, frozen once released.
    functions = [] if "/migrations/versions/" in relative else _functions(tree)
    for name, node in functions:
        length = node.end_lineno - node.lineno + 1
        if length > MAX_FUNCTION_LINES:
            findings.append(Finding(f"{relative}:{name}",
                                    f"{relative}:{node.lineno} {name}: {length} lines (at most {MAX_FUNCTION_LINES})"))
    for lineno, modules in _import_time_imports(tree):
        for module in modules:
            if module.split(".")[0] in DEVELOPMENT_PACKAGES:
                findings.append(Finding(f"{relative}:import {module}",
                                        f"{relative}:{lineno} imports {module} at import time (development code)"))
    return findings


def read_exceptions(path: Path) -> dict[str, str]:
    """``key  # reason`` per line; a key without a reason is refused."""
    exceptions = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if path.exists() else ():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, reason = line.partition("#")
        if not reason.strip():
            raise ValueError(f"{path.name}:{number}: an exception needs its reason after '#'")
        exceptions[key.strip()] = reason.strip()
    return exceptions


def check(root: Path = REPO_ROOT, exceptions_file: Path = EXCEPTIONS_FILE) -> list[str]:
    """Every problem as a line of text; empty when the layout holds."""
    exceptions = read_exceptions(exceptions_file)
    findings = sorted(f for path in production_modules(root) for f in check_module(path, root))
    problems = [f.message for f in findings if f.key not in exceptions]
    stale = sorted(exceptions.keys() - {f.key for f in findings})
    problems += [f"{key}: listed in {exceptions_file.name} but no longer an exception; remove the line" for key in stale]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.layout", description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    problems = check()
    for line in problems:
        print(line)
    if problems:
        print(f"layout: {len(problems)} problem(s); the rules are in tools/layout.py", file=sys.stderr)
        return 1
    print(f"layout: {len(production_modules(REPO_ROOT))} production modules within the rules "
          f"({len(read_exceptions(EXCEPTIONS_FILE))} listed exceptions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
