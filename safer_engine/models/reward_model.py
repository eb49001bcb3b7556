"""Load a backbone as a scalar reward model, and turn (prompt, response) into tokens.

The text format is decided once per model and recorded with every checkpoint: the
tokenizer's chat template when it has one, else a plain "User:/Assistant:" layout. Training,
evaluation and activation extraction all encode through `encode_example`, so they see the
same tokens and know where the response starts.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from safer_engine.artifacts import RM_INFO
from safer_engine.errors import ModelError
from safer_engine.models.registry import EMBEDDED, ModelSource

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

FormatKind = Literal["chat_template", "plain"]
PLAIN_USER = "User: "
PLAIN_ASSISTANT = "\n\nAssistant: "


@dataclass(frozen=True)
class TextFormat:
    """How a pair side becomes one token sequence."""

    kind: FormatKind
    max_length: int
    max_prompt_tokens: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


NO_SPAN = (-1, -1)


@dataclass(frozen=True)
class Encoded:
    """Token ids of one (prompt, response) text and the response's token span.

    `char_spans[i]` is token i's character span in the RAW prompt (for tokens before
    `response_start`) or the RAW response (for tokens in the response span), as Python string
    indices into the strings passed to `encode_example`, not into the formatted sequence;
    `NO_SPAN` for tokens that are neither (special tokens, the text format's own words, a
    stand-in for a response that truncation cut entirely).
    """

    input_ids: list[int]
    response_start: int
    response_end: int
    char_spans: list[tuple[int, int]]


def quiet_transformers() -> None:
    """Silence load reports and progress bars: our own progress is shown instead."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    for name in ("transformers", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)


TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "tokenizer.model",
    "spiece.model",
)


def load_tokenizer(source: ModelSource) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    quiet_transformers()
    folder = Path(source.location)
    # transformers 5 builds an empty tokenizer from config.json alone instead of failing.
    if (
        folder.is_dir()
        and not source.gguf_file
        and not any((folder / name).exists() for name in TOKENIZER_FILES)
    ):
        raise ModelError(
            f"{source.name}: no usable tokenizer (none of {', '.join(TOKENIZER_FILES)}).",
            "Save the tokenizer next to the model with tokenizer.save_pretrained(folder).",
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.location, gguf_file=source.gguf_file)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if "connect" in str(exc).lower():
            raise ModelError(
                f"{source.name}: not a local model, and the hub could not be reached to "
                "download it.",
                f"Check the id and your network, or use an embedded model ({', '.join(EMBEDDED)})"
                " or a local folder.",
            ) from exc
        raise ModelError(
            f"{source.name}: no usable tokenizer ({_first_line(exc)}).",
            "Use a model folder or hub id that includes its tokenizer files.",
        ) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(
            f"{source.name}: only a slow tokenizer is available; SAFER needs token offsets.",
            "Install `tokenizers` support for this model or convert its tokenizer.",
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if tokenizer.pad_token is None:
        raise ModelError(f"{source.name}: the tokenizer has no pad, eos or unk token.")
    tokenizer.padding_side = "right"
    return tokenizer


def gguf_cache_dir(source: ModelSource) -> Path:
    import platformdirs

    stem = Path(source.gguf_file or "model").stem
    return Path(platformdirs.user_cache_dir("safer-explorer")) / "models" / stem


def materialise(source: ModelSource) -> ModelSource:
    """A GGUF model as a plain float checkpoint, converted once into the user cache.

    transformers keeps GGUF weights packed (and marks the model quantized, which `Trainer`
    refuses to fine-tune); dequantised and saved as safetensors, it loads like any folder.
    """
    if source.gguf_file is None:
        return source
    target = gguf_cache_dir(source)
    if not (target / "config.json").exists():
        from transformers import AutoModel, GgufConfig

        quiet_transformers()
        tokenizer = load_tokenizer(source)
        try:
            model = AutoModel.from_pretrained(
                source.location,
                gguf_file=source.gguf_file,
                quantization_config=GgufConfig(dequantize=True),
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(
                f"{source.name}: cannot read its GGUF file ({_first_line(exc)}).",
                "Check that the file is complete and the `gguf` package is installed.",
            ) from exc
        model.hf_quantizer = None
        model.is_quantized = False
        model.config.__dict__.pop("quantization_config", None)
        # each process its own partial folder: two converting at once must not mix files
        partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        try:
            partial.replace(target)
        except OSError:
            if not (target / "config.json").exists():
                raise
            shutil.rmtree(partial)  # another process converted it first: keep theirs
    return ModelSource(source.name, str(target), None)


def load_reward_model(source: ModelSource, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    """A sequence-classification model with one output: the reward."""
    from transformers import AutoModelForSequenceClassification

    quiet_transformers()
    source = materialise(source)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(source.location, num_labels=1)
    except ValueError as exc:
        raise ModelError(
            f"{source.name}: transformers has no sequence-classification head for this "
            f"architecture ({_first_line(exc)}).",
            "Choose a backbone with a *ForSequenceClassification class (BERT, Llama, ...).",
        ) from exc
    except (OSError, KeyError) as exc:
        raise ModelError(
            f"{source.name}: cannot load the model ({_first_line(exc)}).",
            "Check the path or hub id and that its weights are complete.",
        ) from exc
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


def choose_format(
    tokenizer: PreTrainedTokenizerBase, max_length: int, max_prompt_tokens: int
) -> TextFormat:
    kind: FormatKind = "chat_template" if getattr(tokenizer, "chat_template", None) else "plain"
    return TextFormat(kind, max_length, max_prompt_tokens)


def _clip_prompt(tokenizer: PreTrainedTokenizerBase, prompt: str, limit: int) -> tuple[str, int]:
    """Keep the prompt's last `limit` tokens: its final question matters most, and the
    response must keep room in the sequence. The kept part is cut out of the prompt itself
    (not decoded from tokens, which would lose its case and spacing); returns it and the
    character where it starts."""
    encoding = tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
    offsets = encoding["offset_mapping"]
    if len(offsets) <= limit:
        return prompt, 0
    start = int(offsets[-limit][0])
    return prompt[start:], start


@dataclass(frozen=True)
class Rendered:
    """The formatted text, and where the prompt and the response lie in it (characters;
    the prompt's start is -1 when the chat template changed it beyond recognition)."""

    text: str
    prompt_start: int
    prompt_end: int
    response_start: int
    response_end: int


def chat_prefix(tokenizer: PreTrainedTokenizerBase, prompt: str) -> str:
    """The chat template's text up to where the assistant's answer begins."""
    messages = [{"role": "user", "content": prompt}]
    return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))


def render_text(
    tokenizer: PreTrainedTokenizerBase,
    fmt: TextFormat,
    prompt: str,
    response: str,
    prefix: str | None = None,
) -> Rendered:
    """The formatted text and the character spans of the prompt and response inside it
    (`prefix`: the prompt's `chat_prefix`, when already known)."""
    if fmt.kind == "plain":
        prefix = f"{PLAIN_USER}{prompt}{PLAIN_ASSISTANT}"
        at = len(PLAIN_USER)
        end = len(prefix) + len(response)
        return Rendered(prefix + response, at, at + len(prompt), len(prefix), end)
    messages = [{"role": "user", "content": prompt}]
    if prefix is None:
        prefix = chat_prefix(tokenizer, prompt)
    full = str(
        tokenizer.apply_chat_template(
            [*messages, {"role": "assistant", "content": response}], tokenize=False
        )
    )
    start = full.find(response, len(prefix) - 1 if prefix else 0)
    if not full.startswith(prefix) or start < 0:
        raise ModelError(
            "The chat template does not render the response after the prompt.",
            "Use a model whose chat template keeps messages in order.",
        )
    # The user's message is the last one before the generation prompt; a template that
    # rewrites it (trims it, say) leaves the prompt's tokens without character spans.
    at = prefix.rfind(prompt)
    end = at + len(prompt) if at >= 0 else -1
    return Rendered(full, at, end, start, start + len(response))


def _clip(span: tuple[int, int], lo: int, hi: int, shift: int) -> tuple[int, int]:
    """A token's span cut to the text at [lo, hi) of the formatted sequence, in that text's
    own characters (+ shift); NO_SPAN when the token covers none of it."""
    s, e = max(int(span[0]), lo), min(int(span[1]), hi)
    return (s - lo + shift, e - lo + shift) if e > s else NO_SPAN


def encode_example(
    tokenizer: PreTrainedTokenizerBase, fmt: TextFormat, prompt: str, response: str
) -> Encoded:
    clipped, cut = _clip_prompt(tokenizer, prompt, fmt.max_prompt_tokens)
    rendered = render_text(tokenizer, fmt, clipped, response)
    encoding = tokenizer(
        rendered.text,
        add_special_tokens=fmt.kind == "plain",
        truncation=True,
        max_length=fmt.max_length,
        return_offsets_mapping=True,
    )
    ids = list(encoding["input_ids"])
    offsets = encoding["offset_mapping"]
    r0, r1 = rendered.response_start, rendered.response_end
    # Tokens that overlap the response: a BPE token such as " I" starts on the space that
    # the format puts before the response, yet is the response's first word.
    inside = [i for i, (s, e) in enumerate(offsets) if e > s and e > r0 and s < r1]
    if inside:
        start, end = inside[0], inside[-1] + 1
    else:
        # Truncation cut the whole response: keep the last token as its stand-in, so the
        # example still scores the end of what the model saw.
        start, end = len(ids) - 1, len(ids)
    spans = []
    for i, span in enumerate(offsets):
        if start <= i < end:
            spans.append(_clip(span, r0, r1, 0) if inside else NO_SPAN)
        elif i < start and rendered.prompt_start >= 0:
            spans.append(_clip(span, rendered.prompt_start, rendered.prompt_end, cut))
        else:
            spans.append(NO_SPAN)
    return Encoded(ids, start, end, spans)


def load_trained_tokenizer(model_dir: Path) -> tuple[Any, TextFormat, dict[str, Any]]:
    """The tokenizer, text format and record of a reward model saved by
    `train_reward_model` (without loading its weights)."""
    info_path = model_dir / RM_INFO
    if not info_path.exists():
        raise ModelError(
            f"No trained reward model in {model_dir}.",
            "Train one first: `safer train-rm --workspace DIR`.",
        )
    quiet_transformers()
    info = json.loads(info_path.read_text(encoding="utf-8"))
    tokenizer = load_tokenizer(ModelSource(str(model_dir), str(model_dir)))
    return tokenizer, TextFormat(**info["format"]), info


def load_trained_model(model_dir: Path, device: str | None = None) -> Any:
    """The weights of a saved reward model, on `device` (default: the GPU when there is one)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    quiet_transformers()
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    if device is None and torch.cuda.is_available():
        device = "cuda"
    return model.to(device) if device is not None else model


def load_trained_rm(
    model_dir: Path, device: str | None = None
) -> tuple[Any, Any, TextFormat, dict[str, Any]]:
    """A reward model saved by `train_reward_model`, with its recorded text format."""
    tokenizer, fmt, info = load_trained_tokenizer(model_dir)
    return load_trained_model(model_dir, device), tokenizer, fmt, info


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
