"""Plumm intake pipeline."""
