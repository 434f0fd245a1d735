"""Training entry points (run as modules; never imported by the CLI, the bot or the tests'
fast path)."""
