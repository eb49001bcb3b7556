"""Widgets of the explorer screens."""
