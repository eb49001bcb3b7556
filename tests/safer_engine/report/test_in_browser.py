"""The audit report opened in a real browser: headless Chromium (the system's, driven by
playwright), from the file alone, with nothing to fetch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from safer_engine.config import ReportConfig
from safer_engine.report.write import write_report
from safer_engine.workspace import Workspace
from tests.audit_workspace import add_results, annotate

pytestmark = pytest.mark.slow  # starts a browser


def chromium() -> str:
    found = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    if found is None:
        pytest.skip("no chromium on PATH (.ci/run installs it with apt-get)")
    return found


def test_the_report_renders_without_errors_and_lists_the_features(
    synthetic_workspace: Path, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    notes = annotate(synthetic_workspace)
    add_results(synthetic_workspace)
    workspace = Workspace.open(synthetic_workspace)
    report = write_report(workspace, notes.sae_id, tmp_path / "audit.html", ReportConfig())
    problems: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium())
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
            )
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.path.as_uri(), wait_until="load")
            listed = page.eval_on_selector_all(
                "#features tbody tr td:first-child", "cells => cells.map(c => c.textContent)"
            )
            cards = page.eval_on_selector_all(
                "article.feature", "cards => cards.map(c => c.dataset.feature)"
            )
            headings = page.eval_on_selector_all(
                "article.feature h3", "hs => hs.map(h => h.textContent)"
            )
            drawn = page.eval_on_selector_all(
                "svg", "svgs => svgs.map(s => s.getBoundingClientRect().width)"
            )
            shade = page.eval_on_selector(
                f"article[data-feature='{notes.unsafe}'] .f.t",
                "el => getComputedStyle(el).backgroundColor",
            )
            sections = page.eval_on_selector_all("section h2", "hs => hs.map(h => h.textContent)")
            height = page.evaluate("document.body.scrollHeight")
        finally:
            browser.close()
    assert problems == []
    assert requests == [report.path.as_uri()]  # the file itself, nothing else
    assert listed == [str(notes.unsafe), str(notes.safe)]
    assert cards == listed and headings == [f"Feature {f}" for f in listed]
    assert len(drawn) == 10 and all(width > 100 for width in drawn)
    assert shade == "rgb(255, 140, 0)"
    assert sections[:4] == [
        "Data and models",
        "Reward model accuracy",
        "Safety features",
        "Pair scores",
    ]
    assert height > 2000
