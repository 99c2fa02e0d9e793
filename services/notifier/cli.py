"""Notifier-specific commands for ``python -m services.notifier``."""
from __future__ import annotations


def consume(argv: list[str]) -> int:
    from services.notifier.consume import main

    return main(argv)


def bench(argv: list[str]) -> int:
    from tools.bench.notifier import main

    return main(argv)


COMMANDS = {"consume": consume, "bench": bench}
