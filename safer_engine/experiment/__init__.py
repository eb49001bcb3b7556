"""Experiments over many retraining runs: the edit grid and its report (table and plot)."""
