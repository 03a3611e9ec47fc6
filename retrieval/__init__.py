"""Embeddings, the vector store and search over the FAQ."""
