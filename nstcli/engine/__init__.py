"""The engine: everything that computes. Imports neither the CLI nor the bot."""
