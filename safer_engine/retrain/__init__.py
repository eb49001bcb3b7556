"""Retraining runs with the fast recipe: clean or edited by a plan, tested on clean pairs."""
