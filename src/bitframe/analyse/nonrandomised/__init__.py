"""Estimators for designs that do not randomise: comparison groups built from routine data."""
