"""Reward-model training and evaluation."""
