from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from safer_engine.errors import StoreError
from safer_engine.store.check import check_store
from safer_engine.store.reader import StoreReader
from tests.safer_engine.store import damage, extracted


def test_memmap_reads_equal_h5py_reads(trained_workspace: Path) -> None:
    workspace = extracted(trained_workspace)
    with StoreReader(workspace.store_path) as store, h5py.File(workspace.store_path) as f:
        assert isinstance(store.values, np.memmap)
        assert isinstance(store.token_ids, np.memmap)
        group = f[f"acts/{store.layer}"]
        assert np.array_equal(np.asarray(store.values), group["values"][()])
        assert np.array_equal(np.asarray(store.token_row), group["token_row"][()])
        assert np.array_equal(np.asarray(store.token_ids), f["tokens/ids"][()])


def test_check_passes_a_sound_store_and_names_each_corruption(
    trained_workspace: Path, tmp_path: Path
) -> None:
    workspace = extracted(trained_workspace)
    path = workspace.store_path
    fingerprint = workspace.pairs()[1]
    assert check_store(path, fingerprint) == []
    original = path.read_bytes()

    def with_damage(edit) -> list[str]:  # type: ignore[no-untyped-def]
        path.write_bytes(original)
        damage(path, edit)
        return check_store(path, fingerprint)

    def shift_start(f: h5py.File) -> None:
        f["docs/tok_start"][3] += 1

    def nan_value(f: h5py.File) -> None:
        f[f"acts/{f.attrs['layer']}/values"][7, 2] = np.nan

    def unsorted_rows(f: h5py.File) -> None:
        rows = f[f"acts/{f.attrs['layer']}/token_row"]
        rows[4], rows[5] = rows[5], rows[4]

    def wrong_doc(f: h5py.File) -> None:
        f[f"acts/{f.attrs['layer']}/doc"][0] = 9

    def bad_token(f: h5py.File) -> None:
        f["tokens/ids"][0] = 10_000

    def bad_pair(f: h5py.File) -> None:
        f["pairs/chosen_doc"][1] = 999

    assert "not contiguous" in " ".join(with_damage(shift_start))
    assert any("NaN or inf, first row 7" in p for p in with_damage(nan_value))
    assert any("not strictly increasing" in p for p in with_damage(unsorted_rows))
    assert any("wrong document" in p for p in with_damage(wrong_doc))
    assert any("outside the vocabulary" in p for p in with_damage(bad_token))
    assert any("missing documents, first pair 1" in p for p in with_damage(bad_pair))
    path.write_bytes(original)
    assert any("other data" in p for p in check_store(path, "0" * 64))
    path.write_bytes(original[: len(original) // 2])
    assert any("truncated or corrupted" in p for p in check_store(path, fingerprint))


def test_newer_schema_is_refused(trained_workspace: Path) -> None:
    workspace = extracted(trained_workspace)
    damage(workspace.store_path, lambda f: f.attrs.__setitem__("schema_version", 99))
    with pytest.raises(StoreError, match="schema 99"):
        StoreReader(workspace.store_path)


def test_reader_does_not_import_torch(trained_workspace: Path) -> None:
    workspace = extracted(trained_workspace)
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from safer_engine.store.reader import StoreReader\n"
        f"r = StoreReader(Path({str(workspace.store_path)!r}))\n"
        "r.doc_text(0); r.activations(slice(0, 4)); r.token_window(5, 2, 2)\n"
        "r.doc_prompt(0); r.doc_response(0); r.doc_char_spans(0)\n"
        "print(','.join(m for m in ('torch', 'transformers', 'sae_lens') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_token_window_is_clipped_to_its_document(trained_workspace: Path) -> None:
    workspace = extracted(trained_workspace)
    with StoreReader(workspace.store_path) as store:
        start, end = int(store.tok_start[2]), int(store.tok_end[2])
        assert store.token_window(start, 3, 1).tolist() == store.doc_tokens(2)[:2].tolist()
        assert store.token_window(end - 1, 1, 5).tolist() == store.doc_tokens(2)[-2:].tolist()


def test_check_validates_the_datas_texts_and_token_spans(tmp_path: Path) -> None:
    from safer_engine.testing.synthetic_workspace import build_synthetic_workspace

    path = build_synthetic_workspace(tmp_path / "ws", 20, 12, 64, 4) / "store.h5"
    assert check_store(path) == []
    original = path.read_bytes()

    def with_damage(edit) -> list[str]:  # type: ignore[no-untyped-def]
        path.write_bytes(original)
        damage(path, edit)
        return check_store(path)

    def past_the_text(f: h5py.File) -> None:
        f["tokens/char_end"][5] = 10_000

    def one_end(f: h5py.File) -> None:
        f["tokens/char_start"][20] = -1

    def mapped_after_the_response(f: h5py.File) -> None:
        # document 0's last token is its response's last, so move the response's end back
        f["docs/resp_end"][0] -= 1

    def missing_text(f: h5py.File) -> None:
        f["docs/response_text"][3] = 999

    def bad_offsets(f: h5py.File) -> None:
        f["texts/offsets"][-1] -= 1

    def cut_utf8(f: h5py.File) -> None:
        f["texts/utf8"][0] = 0xFF

    assert any("past the end of their text, first token 5" in p for p in with_damage(past_the_text))
    assert any("only one end of a span" in p for p in with_damage(one_end))
    assert any("map text after the response" in p for p in with_damage(mapped_after_the_response))
    assert any("docs/response_text names missing texts" in p for p in with_damage(missing_text))
    assert any("texts/offsets ends at byte" in p for p in with_damage(bad_offsets))
    assert any("not valid UTF-8" in p for p in with_damage(cut_utf8))
    path.write_bytes(original)
    damage(path, lambda f: f.__delitem__("tokens/char_end"))
    problems = check_store(path)
    assert problems == ["the store has some text datasets but lacks tokens/char_end."]
    with StoreReader(path) as store:
        assert not store.has_texts  # still readable: the explorer shows token pieces


def test_a_store_from_before_texts_passes_the_check(tmp_path: Path) -> None:
    import shutil

    fixture = Path(__file__).parents[2] / "fixtures" / "workspace_v1" / "store.h5"
    path = Path(shutil.copy(fixture, tmp_path / "store.h5"))
    assert check_store(path) == []
    with StoreReader(path) as store:
        assert not store.has_texts and store.n_texts == 0


def test_quick_check_sees_damage_without_scanning_the_activations(tmp_path: Path) -> None:
    from safer_engine.testing.synthetic_workspace import build_synthetic_workspace

    root = build_synthetic_workspace(tmp_path / "ws", 20, 12, 64, 4)
    path = root / "store.h5"
    original = path.read_bytes()
    assert check_store(path, quick=True) == []

    damage(path, lambda f: f["acts/12/values"].__setitem__(3, np.nan))
    assert check_store(path, quick=True) == []  # values are scanned by the full check only
    assert any("NaN or inf" in p for p in check_store(path))

    path.write_bytes(original)
    damage(path, lambda f: f["docs/tok_start"].__setitem__(2, f["docs/tok_start"][2] + 1))
    assert any("not contiguous" in p for p in check_store(path, quick=True))

    path.write_bytes(original)
    damage(path, lambda f: f.__delitem__("acts/12/selected"))
    [problem] = check_store(path, quick=True)
    assert "is damaged (part of its layout is missing" in problem

    path.write_bytes(original[: len(original) // 2])
    [problem] = check_store(path, quick=True)
    assert "is damaged (truncated or corrupted" in problem
