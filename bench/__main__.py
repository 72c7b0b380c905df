"""``python -m bench [name ...]``: run the benchmarks (all by default), print fluvial beside MLflow,
and update ``docs/benchmarks.md``."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from bench import BENCHMARKS
from bench._harness import (
    DOCS,
    MLFLOW_VERSION,
    BenchError,
    Row,
    fluvial_side,
    fmt_bar,
    fmt_ratio,
    fmt_value,
    log,
    mlflow_side,
    write_docs,
)


def _print_rows(rows: list[Row]) -> None:
    head = ("benchmark", "measure", "fluvial", f"MLflow {MLFLOW_VERSION}", "ratio", "bar")
    cells = [head] + [
        (r.benchmark, f"{r.measure} ({r.unit})", fmt_value(r.fluvial), fmt_value(r.mlflow), fmt_ratio(r), fmt_bar(r))
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    for n, line in enumerate(cells):
        print("  ".join(c.rjust(w) if 2 <= i <= 4 else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="name", help=f"benchmarks to run: {', '.join(BENCHMARKS)}")
    parser.add_argument("--no-docs", action="store_true", help=f"do not update {DOCS.relative_to(DOCS.parents[1])}")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)

    fluvial, mlflow = fluvial_side(), mlflow_side()
    if mlflow is None:
        log(f"MLflow {MLFLOW_VERSION} is not installed in .venvs/mlflow-{MLFLOW_VERSION} (run `make mlflow-venvs`); "
            "running fluvial only and leaving the docs alone")
    rows: list[Row] = []
    notes: dict[str, str] = {}
    failed: list[str] = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        try:
            bench_rows, note = module.run(fluvial, mlflow)
        except (BenchError, OSError, ValueError, KeyError) as exc:
            log(f"{name}: FAILED: {exc}")
            if not isinstance(exc, BenchError):
                traceback.print_exc()
            failed.append(name)
            continue
        rows.extend(bench_rows)
        notes[name] = note
    sys.stdout.flush()
    print()
    _print_rows(rows)
    verdicts = [f"{r.benchmark}: {r.verdict}" for r in rows if r.bar is not None]
    if verdicts:
        print("\nbars: " + "; ".join(verdicts))
    if rows and mlflow is not None and not args.no_docs:
        write_docs(rows, notes)
        log(f"wrote {DOCS}")
    if failed:
        log(f"failed: {', '.join(failed)}")
        return 1
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
