"""Randomisation engine (placeholder, filled below)."""
