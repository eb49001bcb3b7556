"""SAFER engine: everything that computes or stores. Never imports the explorer UI."""

__version__ = "0.1.0"
