"""Sosedi: the composition root of the bot (settings, dispatcher, CLI)."""
