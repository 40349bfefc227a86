"""Dialogs: tool approval, crash report, error details, small questions, corrections, quick ask."""
