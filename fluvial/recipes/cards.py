"""Step cards: one self-contained HTML file per step (no scripts, no external resources), every value
escaped, with per-column data profiles (counts, missing values, statistics and an inline SVG histogram)."""

from __future__ import annotations

import html
import time
from typing import Any

_STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}th{background:#f3f3f3}
h1{font-size:20px}h2{font-size:16px;margin-top:1.4em}.ok{color:#1a7f37}.bad{color:#cf222e}pre{background:#f6f8fa;
padding:8px;white-space:pre-wrap}svg{vertical-align:middle}"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>(empty)</p>"
    cols = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{esc(r.get(c, ''))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _histogram(values: Any) -> str:
    import numpy as np

    counts, _ = np.histogram(values, bins=12)
    top = max(int(counts.max()), 1)
    bars = "".join(f'<rect x="{i * 10}" y="{30 - 30 * c / top:.1f}" width="9" height="{30 * c / top:.1f}" '
                   f'fill="#4a7bd0"/>' for i, c in enumerate(counts))
    return f'<svg width="120" height="30" role="img" aria-label="histogram">{bars}</svg>'


def profile(df: Any, limit: int = 50_000) -> str:
    """A per-column profile table of ``df`` (statistics on at most ``limit`` rows)."""
    import pandas as pd

    sample = df if len(df) <= limit else df.sample(limit, random_state=0)
    rows = []
    for column in sample.columns:
        s = sample[column]
        row: dict[str, Any] = {"column": column, "type": str(s.dtype), "count": int(s.count()),
                               "missing": int(s.isna().sum()), "distinct": int(s.nunique(dropna=True))}
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if numeric and s.count():
            row.update({"mean": f"{s.mean():.6g}", "std": f"{s.std():.6g}", "min": f"{s.min():.6g}",
                        "max": f"{s.max():.6g}"})
        else:
            top = s.value_counts().head(3)
            row["top values"] = ", ".join(f"{k} ({v})" for k, v in top.items())
        rows.append((row, _histogram(s.dropna().to_numpy(dtype=float)) if numeric and s.count() else ""))
    cols = [*list(dict.fromkeys(k for r, _ in rows for k in r)), "histogram"]
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{esc(r.get(c, ''))}</td>" for c in cols[:-1]) + f"<td>{svg}</td></tr>"
                   for r, svg in rows)
    return f"<p>{len(df)} rows, {len(df.columns)} columns</p><table><tr>{head}</tr>{body}</table>"


def render(recipe: str, step: str, summary: dict[str, Any], status: str, error: str | None = None,
           duration: float | None = None) -> str:
    parts = [f"<h1>{esc(recipe)}: step {esc(step)}</h1>",
             f"<p>Status: <b class=\"{'ok' if status == 'SUCCEEDED' else 'bad'}\">{esc(status)}</b>"
             f" &middot; {esc(time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()))}"
             + (f" &middot; {duration:.2f} s" if duration is not None else "") + "</p>"]
    if error:
        parts.append(f"<h2>Error</h2><pre>{esc(error)}</pre>")
    if summary.get("run_id"):
        parts.append(f"<p>MLflow run: <code>{esc(summary['run_id'])}</code></p>")
    if summary.get("status"):
        parts.append(f"<p>Validation status: <b>{esc(summary['status'])}</b></p>")
    if summary.get("validation"):
        parts.append("<h2>Validation criteria (test data)</h2>" + _table(summary["validation"]))
    if summary.get("registered"):
        parts.append("<h2>Registered model</h2>" + _table([summary["registered"]]))
    rows = summary.get("rows")
    if isinstance(rows, dict):
        parts.append("<h2>Rows</h2>" + _table([rows]))
    elif rows is not None:
        parts.append(f"<p>Rows: {esc(rows)}</p>")
    metrics = summary.get("metrics")
    if metrics:
        names = sorted({k for m in metrics.values() for k in m})
        parts.append("<h2>Metrics</h2>" + _table([{"metric": n, **{d: metrics[d].get(n, "") for d in metrics}}
                                                  for n in names]))
    if summary.get("params"):
        parts.append("<h2>Parameters</h2>" + _table([{"name": k, "value": v} for k, v in summary["params"].items()]))
    for name, df in (summary.get("tables") or {}).items():
        parts.append(f"<h2>Data profile: {esc(name)}</h2>" + profile(df))
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(recipe)} - {esc(step)}"
            f"</title><style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>")
