"""Safety features and pair scores: which features form P and N, and every pair's score."""
