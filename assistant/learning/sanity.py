"""A fixed set of general questions: an adapter must not make the assistant worse at ordinary things."""

from __future__ import annotations

# (question, key terms: each term may list alternatives with '|'); simple facts the base model knows.
SANITY_SET: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("What is the capital of France?", ("Paris",)),
    ("What is the capital of Japan?", ("Tokyo",)),
    ("How many days are in a week?", ("7|seven",)),
    ("How many minutes are in an hour?", ("60|sixty",)),
    ("What is 2 plus 2?", ("4|four",)),
    ("What color is the sky on a clear day?", ("blue",)),
    ("Who wrote Romeo and Juliet?", ("Shakespeare",)),
    ("What is the largest planet in our solar system?", ("Jupiter",)),
    ("Which planet is known as the Red Planet?", ("Mars",)),
    ("What language is spoken in Brazil?", ("Portuguese",)),
    ("What is the chemical symbol for gold?", ("Au",)),
    ("At what temperature in Celsius does water boil at sea level?", ("100",)),
    ("What is the opposite of hot?", ("cold",)),
    ("What is the freezing point of water in Fahrenheit?", ("32",)),
    ("What gas do plants absorb from the air for photosynthesis?", ("carbon dioxide|CO2",)),
    ("Translate 'thank you' into Spanish.", ("gracias",)),
    ("Write a Python function named add that returns the sum of two numbers.", ("def add", "return")),
    ("How many sides does a triangle have?", ("3|three",)),
    ("What is the square root of 81?", ("9|nine",)),
    ("Which animal is known as the king of the jungle?", ("lion",)),
)
