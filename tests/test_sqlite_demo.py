"""The demo's SQLite database: WAL and a busy timeout, so pages keep answering while the demo writes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # child processes


def test_the_demo_database_uses_wal_and_waits_for_a_lock(tmp_path: Path) -> None:
    db = tmp_path / "demo.sqlite3"
    script = (
        "import django; django.setup(); from django.db import connection; c = connection.cursor(); "
        "c.execute('PRAGMA journal_mode'); print(c.fetchone()[0]); "
        "print(connection.settings_dict['OPTIONS']['timeout'])"
    )
    env = {
        "DATABASE_URL": f"sqlite:///{db}",
        "DJANGO_SETTINGS_MODULE": "monitor_site.settings",
        "DJANGO_DEBUG": "1",
    }

    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["wal", "20"]
    with sqlite3.connect(db) as conn:  # the mode is stored in the file: every later reader sees it
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
