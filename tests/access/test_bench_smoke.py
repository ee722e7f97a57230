"""The scan benchmark runs end to end at a tiny size (never timed here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_bench_scan_smoke(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scan.py"), "--db", "sqlite", "--sizes", "300", "--max-scans", "100",
         "--duration", "5", "--concurrency", "2", "--workers", "1", "--sqlite-path", str(tmp_path / "bench.sqlite3")],
        capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    scan = next(line for line in lines if line["bench"] == "scan")
    assert scan["n"] == 300 and 0 < scan["scans"] <= 100 and scan["errors"] == 0 and scan["granted"] == scan["scans"]
    assert scan["server_p50_ms"] > 0 and scan["client_p99_ms"] >= scan["client_p50_ms"] > 0
    package = next(line for line in lines if line["bench"] == "offline_package")
    assert package["barcodes"] + package["removed"] >= 300 - 100 - 30
