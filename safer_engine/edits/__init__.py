"""Edits of the training data: plans (poison, denoise, baselines, manual), applying, exporting."""
