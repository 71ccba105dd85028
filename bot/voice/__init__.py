"""voice package."""
