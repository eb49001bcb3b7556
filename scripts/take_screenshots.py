"""The documentation's screenshots: the explorer on a workspace, driven by Textual's pilot,
saved as SVG at 100×32.

    .venv/bin/python scripts/take_screenshots.py [WORKSPACE] [--word sorry] [--out DIR]

Walks what a first session does: search the features that fire on a word (`w`), open the
strongest (`Enter`), then the pairs (`p`). Tags nothing: the screenshots show the workspace's
own labels. Default workspace: the demo's; default output: docs/assets/screenshots, where
the README and the explorer's page (docs/explorer.md) show them.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from safer_engine.workspace import default_workspace
from safer_tui.app import SaferApp

SIZE = (100, 32)


async def shoot(workspace: Path, word: str, out: Path) -> list[Path]:
    app = SaferApp(workspace)
    saved: list[Path] = []

    def save(name: str) -> None:
        saved.append(Path(app.save_screenshot(f"{name}.svg", str(out))))

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("w", *word, "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        save("features")
        await pilot.press("enter")
        await app.workers.wait_for_complete()  # the examples are read in a worker
        await pilot.pause()
        save("feature")
        await pilot.press("escape", "p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        save("pairs")
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workspace", type=Path, nargs="?", default=default_workspace())
    parser.add_argument("--word", default="sorry")
    parser.add_argument("--out", type=Path, default=Path("docs/assets/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(shoot(args.workspace, args.word, args.out)):
        print(path)


if __name__ == "__main__":
    main()
