"""The intake benchmark runs end to end (briefly) and prints its table."""
import os
import subprocess
import sys
from pathlib import Path

from services.intake.bench import cpu_seconds, process_tree

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


def test_the_bench_prints_rate_latency_and_cpu_per_report():
    out = subprocess.run([sys.executable, "-m", "services.intake", "bench", "--seconds", "1.5", "--concurrency", "4",
                          "--workers", "1", "--no-postgres"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {line.split("  ")[0].strip(): line.split() for line in out.stdout.splitlines()
            if line.startswith(("bare", "intake"))}
    assert set(rows) == {"bare (parse, 202)", "intake, SQLite"}
    intake = rows["intake, SQLite"]
    assert float(intake[2]) > 0  # accepted/s
    assert intake[5].endswith("%") and float(intake[7]) > 0  # vs bare, server CPU ms per report
