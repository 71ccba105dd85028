"""Loopback fakes of Discord, OpenAI, Discord voice and edge-tts."""
