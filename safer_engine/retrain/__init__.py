"""Retraining runs with a recipe (full or fast): clean or edited by a plan, tested on clean
pairs."""
