"""Helpers shared by tests: real Git repositories and a real Docker engine."""
