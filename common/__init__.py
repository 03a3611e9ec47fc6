"""Leaf utilities every layer may use (core, knowledge, retrieval, adapters); they import
nothing of the project."""
