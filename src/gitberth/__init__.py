"""gitberth: a declarative GitOps reconciler for Docker.

A Git repository of app manifests is the single source of truth; gitberth resolves the secrets
they reference, diffs that against the labelled containers that run, and applies the difference.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
