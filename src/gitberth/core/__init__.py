"""The pure core of gitberth: models, manifest loading, secret resolution and planning.

Nothing in this package performs I/O, reads the clock or imports docker, git, fastapi,
cryptography or sqlite3 (``tests/unit/test_core_purity.py`` enforces it). Adapters feed it
values and execute what it decides.
"""
