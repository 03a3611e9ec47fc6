"""Discord adapter (discord.py); see docs/discord.md."""
