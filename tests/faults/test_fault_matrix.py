"""The fault matrix (bench/faults.py --quick) as a test: one test per row, each asserting the
row's targets. Slow (minutes) and self-contained: it starts its own PostgreSQL, Redis and SMTP
sink and never uses the suite's servers. Runs only with EVENTS_SVC_FAULTS=1; select or deselect
it with `-m faults` / `-m "not faults"`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: bench/faults.py's QUICK rows, and its reminder row
QUICK_ROWS = [
    "none",
    "worker SIGKILL",
    "worker SIGSTOP 12s",
    "SMTP 451",
    "Redis FLUSHALL",
    "Redis restart",
    "PG restart",
    "PG frozen",
    "event move",
    "reminders+SIGKILL",
]

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(
        os.environ.get("EVENTS_SVC_FAULTS") != "1", reason="the fault matrix: EVENTS_SVC_FAULTS=1"
    ),
]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("faults") / "rows.json"
    run = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(ROOT / "bench" / "faults.py"), "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,  # the script bounds itself well within this
        check=False,
    )
    print(run.stdout)  # the table, shown by pytest for a failing test
    if not out.exists():
        pytest.fail(f"bench/faults.py wrote no rows (exit {run.returncode}):\n{run.stderr[-3000:]}")
    rows = json.loads(out.read_text())["rows"]
    return {row["fault"]: row for row in rows}


@pytest.mark.parametrize("fault", QUICK_ROWS)
def test_fault_row_meets_its_targets(matrix: dict[str, dict[str, Any]], fault: str) -> None:
    assert fault in matrix, f"no row for {fault!r}"
    row = matrix[fault]
    assert row["passed"], f"{fault}: {'; '.join(row['failures'])} ({row})"
