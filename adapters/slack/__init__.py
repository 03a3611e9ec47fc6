"""Slack adapter (slack-bolt): Socket Mode or the Events API; see docs/slack.md."""
