"""SAE training with sae-lens and encoding of the store into top-k codes."""
