"""The intake benchmark runs end to end (briefly) and prints its table."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.bench.intake import cpu_seconds, process_tree

REPO = Path(__file__).resolve().parents[2]


def test_cpu_counters_read_this_process_and_its_children():
    child = subprocess.Popen([sys.executable, "-c", "import time; sum(range(3_000_000)); time.sleep(5)"])
    try:
        tree = process_tree(os.getpid())
        assert tree[0] == os.getpid() and child.pid in tree
        before = cpu_seconds([os.getpid()])
        sum(i * i for i in range(2_000_000))
        assert cpu_seconds([os.getpid()]) > before
        assert cpu_seconds([2 ** 22 + 12345]) == 0  # no such process
    finally:
        child.kill()
        child.wait()


def _bench(*extra: str) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "services.intake", "bench", "--seconds", "1.5", "--concurrency", "4",
                          "--workers", "1", "--no-postgres", *extra], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.splitlines()


def test_the_bench_prints_each_round_and_the_median_of_rate_latency_and_cpu_per_report():
    lines = _bench("--rounds", "2")
    per_round = [line.split() for line in lines if line[:2].strip().isdigit()]
    assert [(row[0], row[1]) for row in per_round] == [("1", "bare"), ("1", "intake,"), ("2", "bare"), ("2", "intake,")]
    summary = lines[lines.index("median of 2 rounds:") + 1:]
    rows = {line.split("  ")[0].strip(): line.split() for line in summary if line.startswith(("bare", "intake"))}
    assert set(rows) == {"bare (parse, 202)", "intake, SQLite"}
    intake = rows["intake, SQLite"]
    intake_rates = [float(row[3]) for row in per_round if row[1] == "intake,"]
    assert float(intake[2]) > 0  # accepted/s
    assert float(intake[2]) == pytest.approx(sum(intake_rates) / 2, abs=0.51)  # the median of two, printed rounded
    assert intake[5].endswith("%") and float(intake[7]) > 0  # vs bare, server CPU ms per report


def test_rounds_must_be_at_least_one():
    out = subprocess.run([sys.executable, "-m", "services.intake", "bench", "--rounds", "0"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--rounds must be at least 1" in out.stderr
