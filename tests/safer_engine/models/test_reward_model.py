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


CASED_PROMPT = "Question number 3:\nabout SOMETHING, please"
CASED_RESPONSE = "I cannot help with that\n\nrequest because it could hurt People"


def token_text(tokenizer, token_id: int) -> str:  # type: ignore[no-untyped-def]
    """What one token stands for in running text, for comparing with its span."""
    token = tokenizer.convert_ids_to_tokens(token_id)
    text = tokenizer.convert_tokens_to_string([token])
    return str(text).removeprefix("##").strip().lower()


def assert_spans_are_the_tokens(tokenizer, encoded, prompt: str, response: str) -> None:  # type: ignore[no-untyped-def]
    """Every token with a span covers its own characters of the raw prompt or response, the
    spans run in order, and together they cover every non-space character the model read."""
    seen: dict[str, list[str]] = {"prompt": [], "response": []}
    last = {"prompt": -1, "response": -1}
    for i, (token_id, (start, end)) in enumerate(
        zip(encoded.input_ids, encoded.char_spans, strict=True)
    ):
        in_response = encoded.response_start <= i < encoded.response_end
        if start < 0:
            assert end < 0
            continue
        assert i < encoded.response_end  # nothing after the response maps to text
        name, text = ("response", response) if in_response else ("prompt", prompt)
        assert 0 <= start < end <= len(text) and start >= last[name]
        last[name] = end
        expected = token_text(tokenizer, token_id)
        if token_id != tokenizer.unk_token_id and "\ufffd" not in expected:
            assert text[start:end].strip().lower() == expected, (i, text[start:end], expected)
        seen[name].append(text[start:end])
    read = [(s, e) for s, e in encoded.char_spans[: encoded.response_start] if s >= 0]
    for name, text, lo, hi in (
        (
            "prompt",
            prompt,
            min((s for s, _ in read), default=0),
            max((e for _, e in read), default=0),
        ),
        ("response", response, 0, last["response"] if last["response"] >= 0 else 0),
    ):
        assert "".join("".join(seen[name]).split()) == "".join(text[lo:hi].split()), name


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_llama"])
def test_char_spans_map_tokens_onto_the_raw_prompt_and_response(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    tokenizer = load_tokenizer(resolve_model(str(request.getfixturevalue(fixture))))
    fmt = choose_format(tokenizer, 64, 32)
    encoded = encode_example(tokenizer, fmt, CASED_PROMPT, CASED_RESPONSE)
    assert_spans_are_the_tokens(tokenizer, encoded, CASED_PROMPT, CASED_RESPONSE)
    start, end = encoded.char_spans[encoded.response_start]
    assert CASED_RESPONSE[start:end] == "I"
    last_start, last_end = encoded.char_spans[encoded.response_end - 1]
    assert CASED_RESPONSE[last_start:last_end] == "People" and last_end == len(CASED_RESPONSE)
    # the format's own words and special tokens ("User:", "<|assistant|>", [SEP]) map nowhere
    unmapped = {
        tokenizer.convert_ids_to_tokens(t)
        for t, (s, _) in zip(encoded.input_ids, encoded.char_spans, strict=True)
        if s < 0
    }
    assert unmapped == (
        {"[CLS]", "User", ":", "Assistant", "[SEP]"}
        if fmt.kind == "plain"
        else {"<|user|>", "<|end|>", "<|assistant|>"}
    )


def test_clipped_prompts_and_cut_responses_map_what_the_model_read(tiny_bert: Path) -> None:
    tokenizer = load_tokenizer(resolve_model(str(tiny_bert)))
    fmt = choose_format(tokenizer, 16, 4)
    encoded = encode_example(tokenizer, fmt, CASED_PROMPT, CASED_RESPONSE)
    assert_spans_are_the_tokens(tokenizer, encoded, CASED_PROMPT, CASED_RESPONSE)
    prompt_spans = [s for s in encoded.char_spans[: encoded.response_start] if s[0] >= 0]
    # the last 4 prompt tokens, cut from the data's own text (case kept): "SOMETHING , please"
    assert len(prompt_spans) == 4 and CASED_PROMPT[prompt_spans[0][0] :] == (
        "about SOMETHING, please"
    )
    _, read_to = encoded.char_spans[encoded.response_end - 1]
    assert 0 < read_to < len(CASED_RESPONSE)  # max_length cut the response


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EMBEDDED))
def test_char_spans_of_the_embedded_tokenizers(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real tokenizers: MiniLM's uncased WordPiece (## pieces, lowercased) and SmolLM2's
    byte-level BPE with a chat template (spans that start on the space before a word)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tokenizer = load_tokenizer(resolve_model(name))
    prompt = "My boyfriend is cheating on me.\nWhat should I do?"
    response = "I'm really sorry 🙂,\n\nbut I can't help with unbelievably specific plans."
    for fmt in (choose_format(tokenizer, 128, 48), choose_format(tokenizer, 24, 6)):
        encoded = encode_example(tokenizer, fmt, prompt, response)
        assert_spans_are_the_tokens(tokenizer, encoded, prompt, response)
        start, _ = encoded.char_spans[encoded.response_start]
        assert start == 0 or encoded.response_end - encoded.response_start == 1
