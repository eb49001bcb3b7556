"""The reward model run whole, with its layer-L output taken or replaced on the way.

Attribution needs the reward's gradient at block L's output (the residual stream the store
holds), and ablation needs the reward after an edit there. Both come from one forward hook
on block L that swaps its output for another tensor: a leaf that collects the gradient, or
the edited activations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from safer_engine.errors import ModelError
from safer_engine.models.blocks import find_blocks, num_layers

if TYPE_CHECKING:
    import torch

Inputs = dict[str, "torch.Tensor"]


@dataclass(frozen=True)
class LayerGradient:
    """A padded batch's rewards, block L's output and the rewards' gradient there."""

    rewards: torch.Tensor  # [batch]
    hidden: torch.Tensor  # [batch, tokens, d_model]
    gradient: torch.Tensor  # [batch, tokens, d_model]: ∂r_b/∂h_b (texts do not mix)


class LayerSwap:
    """Runs a reward model with block `layer`'s output (1-based) passed through a function."""

    def __init__(self, model: Any, layer: int) -> None:
        total = num_layers(model)
        if not 1 <= layer <= total:
            raise ModelError(
                f"Layer {layer} is out of range: the model has {total} blocks.",
                "Attribute at the store's layer (re-extract if the model changed).",
            )
        self.model = model
        self.block = find_blocks(model)[layer - 1]

    def rewards(self, inputs: Inputs, swap: Callable[[torch.Tensor], torch.Tensor]) -> Any:
        """The reward of each row of the batch, block L's output replaced by `swap(output)`."""

        def hook(module: Any, args: Any, output: Any) -> Any:
            if isinstance(output, tuple):
                return (swap(output[0]), *output[1:])
            return swap(output)

        handle = self.block.register_forward_hook(hook)
        try:
            return self.model(**inputs).logits[:, 0].float()
        finally:
            handle.remove()

    def gradient(self, inputs: Inputs) -> LayerGradient:
        """Rewards, block L's output and ∂reward/∂output: one forward and one backward.

        Each row's reward depends on its own row only (attention stays within a text), so
        the gradient of the rewards' sum holds every text's own gradient."""
        import torch

        taken: list[torch.Tensor] = []

        def leaf(output: torch.Tensor) -> torch.Tensor:
            taken.append(output.detach().requires_grad_(True))
            return taken[0]

        with torch.enable_grad():
            rewards = self.rewards(inputs, leaf)
            (gradient,) = torch.autograd.grad(rewards.sum(), taken[0])
        return LayerGradient(rewards.detach(), taken[0].detach(), gradient)

    def ablated_rewards(self, inputs: Inputs, delta: torch.Tensor) -> torch.Tensor:
        """Rewards with `delta` added to block L's output (same shape as the output)."""
        import torch

        with torch.inference_mode():
            return self.rewards(inputs, lambda output: output + delta.to(output.dtype))
