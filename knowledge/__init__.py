"""The FAQ knowledge base: loading sources, chunking entries, syncing them into the store."""
