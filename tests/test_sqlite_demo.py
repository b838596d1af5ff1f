"""The local demo runs on SQLite (the README's one command): the same reads, claims and deliveries work there.

The production paths use PostgreSQL's features (prepared statements, FOR SHARE locks, arrays);
each falls back on SQLite. A process of its own, so that its settings and database are
the demo's, not the suite's.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_on_sqlite_delivers_and_signs_the_patient_in(tmp_path):
    env = {
        key: value for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL")
    }
    env.update(DEBUG="true", DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
               PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "support" / "sqlite_demo.py"), "DEMO2345"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["sent"] > 0 and seen["inbox"] >= seen["sent"]
    assert (seen["joined"], seen["checklist"], seen["again"]) == (200, 200, 304)
    assert seen["steps"] > 10
