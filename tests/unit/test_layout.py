"""The layout rules (tools/layout.py) hold for the code base, and the check catches each kind
of breach on a throwaway tree."""
from __future__ import annotations

from pathlib import Path

from tools import layout


def test_the_code_base_keeps_its_layout_rules():
    assert layout.check() == []


def _tree(tmp_path: Path, files: dict[str, str], exceptions: str = "") -> tuple[Path, Path]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    listed = tmp_path / "exceptions.txt"
    listed.write_text(exceptions, encoding="utf-8")
    return tmp_path, listed


def test_a_long_module_a_long_function_and_an_import_of_tooling_are_each_reported(tmp_path):
    long_function = "def handle():\n" + "    x = 1\n" * 61
    root, listed = _tree(tmp_path, {
        "services/svc/big.py": "x = 1\n" * 401,
        "services/svc/long.py": long_function,
        "shared/uses_tools.py": "from tools.broker import free_port\n",
        "shared/uses_tests.py": "try:\n    import tests.support.helpers\nexcept ImportError:\n    pass\n",
        "shared/lazy.py": "def bench():\n    from tools.bench.intake import main\n    return main\n",
        "services/svc/migrations/versions/abc_initial.py": long_function,
        "tools/free.py": "x = 1\n" * 900,
    })
    problems = layout.check(root, listed)
    assert len(problems) == 4, problems
    assert any("services/svc/big.py: 401 lines" in p for p in problems)
    assert any("services/svc/long.py:1 handle: 62 lines" in p for p in problems)
    assert any("shared/uses_tools.py:1 imports tools.broker" in p for p in problems)
    assert any("shared/uses_tests.py:2 imports tests.support.helpers" in p for p in problems)


def test_a_listed_exception_passes_and_a_stale_one_fails(tmp_path):
    root, listed = _tree(tmp_path, {"services/svc/big.py": "x = 1\n" * 401, "shared/ok.py": "x = 1\n"},
                         "services/svc/big.py  # being split\nshared/ok.py  # was long once\n")
    assert layout.check(root, listed) == [
        "shared/ok.py: listed in exceptions.txt but no longer an exception; remove the line"]


def test_an_exception_without_its_reason_is_refused(tmp_path):
    root, listed = _tree(tmp_path, {"shared/ok.py": "x = 1\n"}, "shared/ok.py\n")
    try:
        layout.check(root, listed)
    except ValueError as exc:
        assert "needs its reason" in str(exc)
    else:
        raise AssertionError("an exception without a reason was accepted")
