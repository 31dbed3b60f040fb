"""Detectors: components that turn events into matches (see :mod:`detectors.base`)."""
