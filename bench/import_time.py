"""``import_time``: wall time of ``python -c "import fluvial"`` vs ``python -c "import mlflow"`` as whole
processes (median of 10 after one warm-up run that fills the bytecode caches), the ``python -c pass``
floor of the same interpreter, the ``import`` statement alone timed inside the process, and the number of
entries in ``sys.modules`` after the import."""

from __future__ import annotations

from bench._harness import Row, Side, fresh_dir, log, median, time_process

NAME = "import_time"
REPEATS = 10
# Inside the process: the import alone (no interpreter start-up), and what it adds to sys.modules.
_INSIDE = (
    "import sys, time; n = len(sys.modules); t = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - t, n, len(sys.modules))"
)


def _measure(side: Side) -> dict[str, float]:
    whole, floor, inside = [], [], []
    with fresh_dir(NAME) as cwd:
        time_process(side, ["-c", f"import {side.module}"], cwd)  # warm-up: bytecode caches, page cache
        for _ in range(REPEATS):  # interleaved, so all three see the same machine noise
            whole.append(time_process(side, ["-c", f"import {side.module}"], cwd)[0])
            floor.append(time_process(side, ["-c", "pass"], cwd)[0])
            seconds, before, after = time_process(side, ["-c", _INSIDE.format(module=side.module)], cwd)[1].split()
            inside.append(float(seconds))
    return {"import": median(whole), "floor": median(floor), "inside": median(inside),
            "modules": int(after), "added": int(after) - int(before)}


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    results = {}
    for side in (fluvial, mlflow):
        if side is None:
            continue
        log(f"{NAME}: {side.label}: 1 warm-up + {REPEATS} x (`python -c 'import {side.module}'`, `python -c pass`, "
            "import timed in-process)")
        results[side.module] = r = _measure(side)
        log(f"{NAME}: {side.label}: process {r['import'] * 1000:.0f} ms (floor {r['floor'] * 1000:.0f} ms), "
            f"in-process {r['inside'] * 1000:.1f} ms, {r['modules']:.0f} modules")
    f, m = results["fluvial"], results.get("mlflow")

    def get(d: dict | None, key: str, scale: float = 1.0) -> float | None:
        return None if d is None else d[key] * scale

    rows = [
        Row(NAME, "import, whole process, median of 10", "ms", f["import"] * 1000, get(m, "import", 1000), False),
        Row(NAME, "the import statement alone, in-process, median of 10", "ms", f["inside"] * 1000,
            get(m, "inside", 1000), False),
        Row(NAME, "`python -c pass` floor", "ms", f["floor"] * 1000, get(m, "floor", 1000), False),
        Row(NAME, "modules in sys.modules after import", "count", f["modules"], get(m, "modules"), False),
    ]
    note = f"`python -c pass` starts with {f['modules'] - f['added']:.0f} modules in fluvial's .venv"
    if m is not None:
        note += f" and {m['modules'] - m['added']:.0f} in MLflow's"
    note += f"; `import fluvial` adds {f['added']:.0f}"
    if m is not None:
        note += f", `import mlflow` adds {m['added']:.0f}"
    note += (". fluvial's floor is higher because `.venv` holds fluvial as an editable install, whose "
             "import hook (a `.pth` file) loads `pathlib` and friends at every interpreter start (a regular "
             "install has no such hook). The in-process row leaves interpreter start-up out.")
    return rows, note
