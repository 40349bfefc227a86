"""Feedback on answers: thumbs up/down, corrected answers and conversations marked for learning."""

from assistant.feedback.store import Feedback, FeedbackError, FeedbackStore

__all__ = ["Feedback", "FeedbackError", "FeedbackStore"]
