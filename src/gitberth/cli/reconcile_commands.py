"""Placeholder replaced in the next commit by ``apply`` and ``plan``."""
