"""The engine's facade for the explorer: features, examples, pairs and labels, torch-free."""
