"""Tools for fixtures and benchmarks: synthetic workspaces of any size."""
