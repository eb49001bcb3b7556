"""The documentation's pictures of the audit report: `safer report` of a workspace, opened in
the system's headless Chromium (through playwright, as the report's test opens it), saved as
PNG: the report's first screen and its strongest safety feature's card.

    .venv/bin/python scripts/report_screenshot.py [WORKSPACE] [--out DIR]

Default workspace: the demo's; default output: docs/assets/screenshots.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from safer_engine.config import ReportConfig
from safer_engine.report.write import write_report
from safer_engine.share.features import analysed_sae
from safer_engine.workspace import Workspace, default_workspace

VIEWPORT = {"width": 1100, "height": 1300}


def shoot(workspace: Path, out: Path) -> list[Path]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("No chromium on PATH: install it (apt-get install chromium).")
    ws = Workspace.open(workspace)
    with tempfile.TemporaryDirectory() as folder:
        report = write_report(
            ws, analysed_sae(ws, None), Path(folder) / "audit.html", ReportConfig()
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium)
            try:
                page = browser.new_page(viewport=VIEWPORT)
                page.goto(report.path.as_uri(), wait_until="load")
                first = out / "report.png"
                page.screenshot(path=str(first))
                card = out / "report-feature.png"
                page.locator("article.feature").first.screenshot(path=str(card))
            finally:
                browser.close()
    return [first, card]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workspace", type=Path, nargs="?", default=default_workspace())
    parser.add_argument("--out", type=Path, default=Path("docs/assets/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in shoot(args.workspace, args.out):
        print(path)


if __name__ == "__main__":
    main()
