from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from safer_engine.config import ReportConfig
from safer_engine.errors import Cancelled, WorkspaceError
from safer_engine.progress import CancelToken
from safer_engine.report.write import write_report
from safer_engine.workspace import Workspace
from tests.audit_workspace import add_results, annotate, read_jsonl


def test_the_report_is_one_file_with_every_section(
    synthetic_workspace: Path, tmp_path: Path
) -> None:
    notes = annotate(synthetic_workspace)
    add_results(synthetic_workspace)
    workspace = Workspace.open(synthetic_workspace)
    done = write_report(workspace, notes.sae_id, tmp_path / "audit.html", ReportConfig())
    html = done.path.read_text(encoding="utf-8")
    assert done.bytes == len(html.encode("utf-8")) and done.features == 2
    # self-contained: nothing is fetched from anywhere
    assert not re.search(r"""(src|href)=["'](?!#)""", html)
    assert "@import" not in html and "url(" not in html
    for anchor in ("overview", "accuracy", "features", "pair-scores", "plans", "runs"):
        assert f'<section id="{anchor}">' in html
    assert '<section id="experiment">' in html and '<section id="benchmark">' in html
    # every chart is well-formed SVG
    charts = re.findall(r"<svg .*?</svg>", html, re.S)
    # two features, the scores, the experiment's two families in two slices, the benchmark
    assert len(charts) == 2 + 1 + 4 + 3
    for chart in charts:
        ET.fromstring(chart)
    # the data's own words, escaped; the tag, the judge and the effect beside them
    assert "fires on &lt;harmful&gt; requests &amp; answers" in html
    assert "<harmful>" not in html
    assert "Refusals of harmful requests." in html and "5/5" in html
    effect = notes.effects[notes.unsafe]
    assert f"{effect[0]:+.4f} (train)" in html
    # the strongest example's token is shaded at full strength and drawn in bold
    card = html[html.index(f'id="feature-{notes.unsafe}"') :]
    assert 'class="f t" style="background:rgba(255,140,0,1.00)"' in card
    # the runs against their clean runs: poisoning cost 0.12 of safety accuracy
    assert "poison-5pct-1a2b3c4d-rabc123-s0" in html and "-0.120" in html
    made = re.search(
        r'<script type="application/json" id="safer-report-config">(.*?)</script>', html, re.S
    )
    assert made is not None
    assert json.loads(made.group(1))["config"] == ReportConfig().to_dict()


def test_a_cancel_or_an_unwritable_place_keeps_the_earlier_report(
    synthetic_workspace: Path, tmp_path: Path
) -> None:
    workspace = Workspace.open(synthetic_workspace)
    sae_id = workspace.sae_ids()[-1]
    out = tmp_path / "audit.html"
    write_report(workspace, sae_id, out, ReportConfig(features=2))
    before = out.read_bytes()
    cancel = CancelToken()

    def progress(task: str, done: int, total: int | None) -> None:
        if done >= 3:
            cancel.cancel()

    with pytest.raises(Cancelled):
        write_report(workspace, sae_id, out, ReportConfig(features=10), progress, cancel)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.html", "ws"]
    (tmp_path / "file").write_text("")
    with pytest.raises(WorkspaceError, match="Cannot write the report"):
        write_report(workspace, sae_id, tmp_path / "file" / "audit.html", ReportConfig())
    with pytest.raises(WorkspaceError, match="is a folder") as folder:
        write_report(workspace, sae_id, tmp_path, ReportConfig())
    assert "audit.html" in folder.value.hint


def test_the_judges_fit_shows_in_the_report_and_the_export_once_judgements_carry_it(
    synthetic_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safer_engine.config import NeuronpediaConfig
    from safer_engine.share import features
    from safer_engine.share.neuronpedia import export_neuronpedia

    notes = annotate(synthetic_workspace)
    monkeypatch.setattr(features, "judge_fit", lambda j: 0.8 if j is not None else None)
    workspace = Workspace.open(synthetic_workspace)
    html = write_report(workspace, notes.sae_id, tmp_path / "a.html", ReportConfig()).path
    text = html.read_text(encoding="utf-8")
    assert ">fit</th>" in text and "5/5</b>, fit 0.800" in text
    done = export_neuronpedia(workspace, notes.sae_id, tmp_path / "np", NeuronpediaConfig())
    judged = [
        row
        for row in read_jsonl(done.folder / "explanations" / "batch-0.jsonl.gz")
        if row["typeName"] == "safer-judge"
    ]
    assert sorted(row["scoreV2"] for row in judged) == [0.8, 0.8]


def test_cards_without_examples_when_none_are_asked_for(
    synthetic_workspace: Path, tmp_path: Path
) -> None:
    workspace = Workspace.open(synthetic_workspace)
    config = ReportConfig(features=3, examples=0)
    html = write_report(workspace, workspace.sae_ids()[-1], tmp_path / "a.html", config).path
    text = html.read_text(encoding="utf-8")
    assert text.count('<article class="feature"') == 3
    assert 'class="example"' not in text and "No examples" not in text
