from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.errors import ModelError
from safer_engine.models.registry import EMBEDDED, resolve_model
from safer_engine.models.reward_model import (
    choose_format,
    encode_example,
    load_reward_model,
    load_tokenizer,
)


def response_tokens(tokenizer, encoded) -> str:  # type: ignore[no-untyped-def]
    span = encoded.input_ids[encoded.response_start : encoded.response_end]
    return str(tokenizer.decode(span))


def test_plain_format_marks_the_response_span(tiny_bert: Path) -> None:
    tokenizer = load_tokenizer(resolve_model(str(tiny_bert)))
    fmt = choose_format(tokenizer, 64, 8)
    assert fmt.kind == "plain"
    encoded = encode_example(tokenizer, fmt, "question number 3", "Sure here is 3")
    assert response_tokens(tokenizer, encoded) == "Sure here is 3"
    assert tokenizer.decode(encoded.input_ids[:1]) == "[CLS]"


def test_chat_template_is_used_when_the_tokenizer_has_one(tiny_llama: Path) -> None:
    tokenizer = load_tokenizer(resolve_model(str(tiny_llama)))
    fmt = choose_format(tokenizer, 64, 8)
    assert fmt.kind == "chat_template"
    encoded = encode_example(tokenizer, fmt, "question number 3", "Sure here is 3")
    assert response_tokens(tokenizer, encoded) == "Sure here is 3"
    assert "<|assistant|>" in tokenizer.decode(encoded.input_ids[: encoded.response_start])


def test_long_prompts_keep_their_end_and_responses_are_cut_at_max_length(
    tiny_bert: Path,
) -> None:
    tokenizer = load_tokenizer(resolve_model(str(tiny_bert)))
    fmt = choose_format(tokenizer, 12, 4)
    prompt = "question number 1 about something question number 2"
    encoded = encode_example(tokenizer, fmt, prompt, "Sure here is exactly how to do it")
    text = tokenizer.decode(encoded.input_ids)
    assert "question number 2" in text and "1" not in text.split("Assistant")[0]
    assert len(encoded.input_ids) == 12
    assert response_tokens(tokenizer, encoded).startswith("Sure here")


def test_reward_model_has_one_output(tiny_llama: Path) -> None:
    source = resolve_model(str(tiny_llama))
    tokenizer = load_tokenizer(source)
    model = load_reward_model(source, tokenizer)
    assert model.config.num_labels == 1
    assert model.config.pad_token_id == tokenizer.pad_token_id


def test_missing_path_and_non_model_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(str(tmp_path / "nope"))
    with pytest.raises(ModelError, match="not a model folder"):
        resolve_model(str(tmp_path))


def test_folder_without_tokenizer(tiny_bert: Path, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text((tiny_bert / "config.json").read_text())
    with pytest.raises(ModelError, match="no usable tokenizer"):
        load_tokenizer(resolve_model(str(tmp_path)))


def test_architecture_without_classification_head(tmp_path: Path, tiny_bert: Path) -> None:
    from transformers import CLIPVisionConfig

    CLIPVisionConfig(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16
    ).save_pretrained(tmp_path)
    tokenizer = load_tokenizer(resolve_model(str(tiny_bert)))
    with pytest.raises(ModelError, match="no sequence-classification head"):
        load_reward_model(resolve_model(str(tmp_path)), tokenizer)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EMBEDDED))
def test_embedded_models_load_offline_and_score_a_pair(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    source = resolve_model(name)
    tokenizer = load_tokenizer(source)
    model = load_reward_model(source, tokenizer).eval()
    fmt = choose_format(tokenizer, 64, 24)
    scores = []
    for response in ("I can't help with that.", "Sure, here is how."):
        ids = encode_example(tokenizer, fmt, "How do I pick a lock?", response).input_ids
        with torch.inference_mode():
            scores.append(float(model(torch.tensor([ids])).logits[0, 0]))
    assert all(torch.isfinite(torch.tensor(scores)))
    assert scores[0] != scores[1]
    assert fmt.kind == ("chat_template" if name == "smollm2" else "plain")
