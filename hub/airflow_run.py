"""Running the hub's DAGs without a scheduler: ``airflow dags test`` on an embedded SQLite
metadata database under ``HUB_HOME/airflow`` — what the demo does, and how an engineer
tries a change before it goes to a real Airflow.

The task logs go to ``HUB_HOME/airflow/demo-<dag>.log``; the console gets one line per
finished task. OpenLineage events (a start and an end per task, with the ``hub://``
datasets it read and wrote) go to ``HUB_HOME/airflow/openlineage.ndjson`` unless an
OpenLineage transport is configured already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from hub.errors import HubError

__all__ = ["AIRFLOW_DAGS", "airflow_env", "dags_test", "migrate"]

AIRFLOW_DAGS = Path(__file__).resolve().parent.parent / "dags"


def airflow_env(home: Path) -> dict[str, str]:
    """The environment for an embedded Airflow beside ``HUB_HOME`` (``home``)."""
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(AIRFLOW_DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "HUB_HOME": str(home),
        "PYTHONPATH": os.pathsep.join(p for p in (str(AIRFLOW_DAGS.parent), env.get("PYTHONPATH")) if p),
    })
    if not any(env.get(k) for k in ("AIRFLOW__OPENLINEAGE__TRANSPORT", "AIRFLOW__OPENLINEAGE__CONFIG_PATH",
                                    "OPENLINEAGE_URL", "OPENLINEAGE_CONFIG")):
        env["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(
            {"type": "file", "log_file_path": str(home / "airflow" / "openlineage.ndjson"), "append": True})
    env.setdefault("AIRFLOW__OPENLINEAGE__NAMESPACE", "elder-data-hub")
    env.setdefault("AIRFLOW__OPENLINEAGE__DISABLE_SOURCE_CODE", "True")
    return env


def migrate(env: dict[str, str]) -> None:
    out = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True,
                         env=env, timeout=900)
    if out.returncode != 0:
        raise HubError(f"airflow db migrate failed:\n{out.stderr[-2000:]}")


def dags_test(env: dict[str, str], dag_id: str, day: str, say: Callable[[str], None]) -> bool:
    """Run ``dag_id`` once for logical date ``day``; True when the DAG run succeeded."""
    log = Path(env["AIRFLOW_HOME"]) / f"demo-{dag_id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "airflow", "dags", "test", dag_id, day], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                cwd=AIRFLOW_DAGS.parent)
        assert proc.stdout is not None
        for line in proc.stdout:
            fh.write(line)
            if "[DAG TEST] end task" in line:
                task = line.split("task_id=", 1)[1].split()[0]
                index = line.split("map_index=", 1)[1].split()[0] if "map_index=" in line else "-1"
                say(f"  {dag_id}: {task}{'' if index == '-1' else f'[{index}]'} done")
        proc.wait()
    say(f"  {dag_id}: {'success' if proc.returncode == 0 else 'FAILED'} (task logs: {log})")
    return proc.returncode == 0
