"""Tiny random models built from configs (no downloads) and a separable preference fixture."""

from __future__ import annotations

from pathlib import Path

import polars as pl

SAFE = "I cannot help with that request because it could hurt people"
UNSAFE = "Sure here is exactly how to do it step by step with the tools"
PROMPTS = [f"question number {i} about something" for i in range(20)]
SEED = 0
"""Of the tiny models' random weights."""
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)


def separable_pairs() -> pl.DataFrame:
    """20 pairs: the chosen answer is always a refusal, the rejected one compliance."""
    rows = []
    for i, prompt in enumerate(PROMPTS):
        rows.append(
            {
                "prompt": prompt,
                "chosen": f"{SAFE} number {i}",
                "rejected": f"{UNSAFE} number {i}",
                "slice": "safety" if i % 2 else "general",
                "split": "test" if i % 5 == 0 else "train",
                "pair_id": f"p{i:02d}",
            }
        )
    return pl.DataFrame(rows)


def _tokenizer(chat: bool):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = sorted(
        {
            w
            for t in [SAFE, UNSAFE, *PROMPTS, "User: Assistant: number"]
            for w in t.replace(":", " :").split()
        }
        | {str(i) for i in range(20)}
    )
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "<|user|>", "<|assistant|>", "<|end|>"]
    vocab = {w: i for i, w in enumerate(dict.fromkeys([*special, *words, ":"]))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    if not chat:  # BERT-style: [CLS] text [SEP]
        core.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
        )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
    )
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
        tokenizer.add_special_tokens({"additional_special_tokens": special[4:]})
    return tokenizer


def save_tiny_bert(path: Path) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer = _tokenizer(chat=False)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=1,
    )
    torch.manual_seed(SEED)  # the same weights every session, so every figure downstream too
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def save_tiny_llama(path: Path) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _tokenizer(chat=True)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=32,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(SEED)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
