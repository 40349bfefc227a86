"""Voice: speech to text (Whisper), text to speech (the system synthesizer), microphone and speaker."""
