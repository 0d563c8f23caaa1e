"""Compliance: replaying fixtures through the pipeline and proving nothing leaks, keys at rest, retention."""
