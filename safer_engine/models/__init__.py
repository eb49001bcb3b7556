"""Model registry and reward-model loading."""
