"""The explorer's screens."""
