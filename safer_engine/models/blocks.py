"""Run a model only up to decoder block L and take that block's output.

A forward hook on block L captures its output and stops the forward pass with an
exception, so blocks after L never run, whatever the architecture, as long as its blocks
form one `ModuleList` of `num_hidden_layers` modules (BERT, Llama, GPT-2, Mistral, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from safer_engine.errors import ModelError

if TYPE_CHECKING:
    import torch


class _Reached(Exception):
    """Raised by the hook once block L has produced its output."""


def num_layers(model: Any) -> int:
    count = getattr(model.config, "num_hidden_layers", None)
    if not isinstance(count, int):
        raise ModelError(
            "The model's config has no num_hidden_layers.",
            "Use a transformers model with a standard config.",
        )
    return count


def default_layer(model: Any) -> int:
    """About three quarters of the depth (the paper: block 12 of 16)."""
    return max(1, int(0.75 * num_layers(model) + 0.5))


def find_blocks(model: Any) -> Any:
    from torch import nn

    count = num_layers(model)
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) == count:
            return module
    raise ModelError(
        f"Cannot locate the {count} transformer blocks of {type(model).__name__}: no "
        f"ModuleList of that length.",
        "Extraction supports models whose blocks form one list (BERT, Llama, GPT-2, ...).",
    )


class BlockOutput:
    """Callable returning hidden_states[layer] (output of block `layer`, 1-based)."""

    def __init__(self, model: Any, layer: int) -> None:
        total = num_layers(model)
        if not 1 <= layer <= total:
            raise ModelError(
                f"Layer {layer} is out of range: the model has {total} blocks.",
                f"Choose --layer between 1 and {total}.",
            )
        self.model = model.base_model if hasattr(model, "base_model") else model
        self.block = find_blocks(model)[layer - 1]

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        captured: list[torch.Tensor] = []

        def hook(module: Any, args: Any, output: Any) -> None:
            captured.append(output[0] if isinstance(output, tuple) else output)
            raise _Reached

        handle = self.block.register_forward_hook(hook)
        try:
            self.model(input_ids=input_ids, attention_mask=attention_mask)
        except _Reached:
            pass
        finally:
            handle.remove()
        if not captured:
            raise ModelError("The forward pass never reached the chosen block.")
        return captured[0]
