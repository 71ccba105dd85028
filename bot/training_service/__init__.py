"""The training service: OpenAI's Files and Fine-tuning API over LoRA training of open models (own process)."""
