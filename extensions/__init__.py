"""Lightbulb extensions, one per command group."""
