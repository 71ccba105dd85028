"""A Discord bot that a community teaches."""
