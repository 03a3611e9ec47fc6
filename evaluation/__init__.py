"""Evaluation tools: benchmark readers and the retrieval, answer, conversation and LLM
evals behind ``linguadesk eval``. Tools sit above the core; the core never imports them."""
