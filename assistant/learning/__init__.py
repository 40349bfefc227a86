"""Personalization: what the user teaches (feedback, documents) becomes LoRA adapters trained on this machine."""
