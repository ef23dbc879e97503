"""Unit tests of the secret store, its crypto, sealing, tokens and request validation."""
