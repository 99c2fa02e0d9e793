"""Intake-specific commands for ``python -m services.intake`` (besides migrate, web, worker, …)."""
from __future__ import annotations


def bench(argv: list[str]) -> int:
    """Accepted reports per second and latency (development tooling, imported only when asked for)."""
    from tools.bench.intake import main

    return main(argv)


COMMANDS = {"bench": bench}
