"""The chat: conversation list, transcript, messages, tool cards, citations and the composer."""
