"""Long-term memory of the user: SQLite records, a vector index, automatic facts and recall."""
