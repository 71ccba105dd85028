"""The voice conversation engine: heard speech in, spoken answers out, independent of Discord."""
