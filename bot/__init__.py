"""Conversation engine: turns in, grounded multilingual replies out."""
