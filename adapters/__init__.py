"""Adapters translate between a channel (terminal, Slack, Discord, web) and the bot core."""
