"""The benchmarks still run: every measure in the table, at a tiny size.

The figures of such a short run mean nothing and are not checked (bench/README.md has the
real ones); what is checked is that ``python -m bench`` works end to end and reports every
measure the README promises, so it does not rot between releases.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.e2e


def test_every_benchmark_runs_and_reports() -> None:
    tiny = (
        "--count 200 --rounds 1 --pending 2000 --steady-seconds 2 --dramatiq-delayed 10 "
        "--latency 0.05 --latency-count 20 --dramatiq-patience 3"
    )
    result = subprocess.run(
        [sys.executable, "-m", "bench", *tiny.split(), "--seconds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    # 3: a goal missed, which at this size means nothing; anything else is a crash
    assert result.returncode in (0, 3), result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    # every worker stopped whole before the server: no consumer left polling a closed port
    assert "CRITICAL" not in result.stderr, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    numbered = {row.split()[1] for row in rows}
    assert {"1.", "2.", "3.", "4.", "5.", "6.", "7."} <= numbered, result.stdout
    assert "round 1/1" in result.stderr  # progress is printed while it runs
    rates = {row.split("|")[1].strip(): row.split("|")[2].split()[0] for row in rows if "/s" in row}
    assert len(rates) >= 6 and all(float(r.replace(",", "")) > 0 for r in rates.values()), rates
    assert "Command: `make bench ARGS='--count 200" in result.stdout
