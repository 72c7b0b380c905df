#!/usr/bin/env python
"""Screenshots of the web UI for README and docs/ui.md, taken from the real UI: starts ``fluvial server``
on a throwaway SQLite store, fills it with the demo data of ``tests/ui/_seed.py`` and photographs each
main page with Debian's chromium (through Playwright). Writes ``docs/img/ui-*.png``.

Usage: PYTHONPATH=. .venv/bin/python scripts/ui-screenshots.py [--out docs/img]"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "server"), str(ROOT / "tests" / "ui")]

from _seed import seed  # noqa: E402
from _serve import fluvial_server  # noqa: E402
from conftest import CHROMIUM, CHROMIUM_ARGS, client_for  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="fluvial-shots-") as tmp, fluvial_server(Path(tmp)) as server:
        ids = seed(client_for(server), hostile=False)
        runs = quote(json.dumps(ids["children"]))
        cols = f"metrics={quote(json.dumps(['loss', 'accuracy']))}&params={quote(json.dumps(['alpha', 'depth']))}"
        shots = [
            ("ui-experiments", "experiments", None),
            ("ui-runs", f"experiments/{ids['experiment']}?{cols}", "Expand sweep-parent"),
            ("ui-runs-grouped", f"experiments/{ids['experiment']}?{cols}&group=param:depth", "depth = 4"),
            ("ui-run", f"experiments/{ids['experiment']}/runs/{ids['parent']}", "data.csv"),
            ("ui-parquet", f"experiments/{ids['experiment']}/runs/{ids['parent']}", "predictions.parquet"),
            ("ui-chart", f"metric/loss?runs={runs}", None),
            ("ui-compare", f"compare-runs?runs={runs}", None),
            ("ui-model-version", "models/demo-model/versions/1", None),
        ]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800}, base_url=server.url)
            for name, route, click in shots:
                page.goto("/#/" + route)
                page.wait_for_selector("main .page")
                page.wait_for_load_state("networkidle")
                if click:
                    page.get_by_role("button", name=click).first.click()
                    page.wait_for_load_state("networkidle")
                if name == "ui-parquet":  # the preview is below the run's overview
                    page.locator(".preview table").scroll_into_view_if_needed()
                else:
                    page.evaluate("window.scrollTo(0, 0)")
                page.wait_for_timeout(300)
                path = args.out / f"{name}.png"
                page.screenshot(path=str(path), full_page=name in ("ui-compare",))
                print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
            browser.close()


if __name__ == "__main__":
    main()
