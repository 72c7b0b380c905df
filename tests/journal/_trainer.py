"""A training program in journal mode, run as a subprocess by the journal tests.

argv: tracking URI, journal dir, record file, steps, [pause-file]. Before each logging call it appends
``intent <json>`` to the record file, after it returns ``done <json>`` (a kill -9 between the two leaves
exactly one item in doubt). With a pause file, it stops after half the steps and waits (bounded) until
that file exists.
"""

import json
import os
import sys
import time

import fluvial as mlflow

uri, journal_dir, record_path, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pause = sys.argv[5] if len(sys.argv) > 5 else None
mlflow.set_tracking_uri(uri)
mlflow.set_journal_dir(journal_dir)
record = open(record_path, "a", buffering=1)  # noqa: SIM115 (open for the whole program)


def logged(item, call):
    record.write("intent " + json.dumps(item) + "\n")
    call()
    record.write("done " + json.dumps(item) + "\n")


run = mlflow.start_run(experiment_id="0", run_name="journal-trainer")
rid = run.info.run_id
record.write("run " + json.dumps(rid) + "\n")
logged(["param", "lr", "0.01"], lambda: mlflow.log_param("lr", 0.01))
logged(["tag", "phase", "start"], lambda: mlflow.set_tag("phase", "start"))
for step in range(steps):
    ts = 1_700_000_000_000 + step
    value = step * 0.5
    logged(["metric", "loss", value, ts, step],
           lambda v=value, t=ts, s=step: mlflow.tracking.MlflowClient().log_metric(rid, "loss", v, t, s))
    if pause and step == steps // 2:
        open(pause + ".reached", "w").close()
        deadline = time.monotonic() + 60
        while not os.path.exists(pause) and time.monotonic() < deadline:
            time.sleep(0.05)
artifact = os.path.join(os.path.dirname(record_path), "notes.txt")
with open(artifact, "w") as fh:
    fh.write("hello")
logged(["artifact", "notes.txt"], lambda: mlflow.log_artifact(artifact))
logged(["tag", "phase", "end"], lambda: mlflow.set_tag("phase", "end"))
logged(["end"], lambda: mlflow.end_run())
