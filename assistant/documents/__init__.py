"""Documents: parsing, chunking, background indexing, hybrid search and citations."""
