"""`nst serve-bot` / `nst worker`: a Telegram front end over the engine.

Data flows one way: Telegram updates → `service` (conversation state machine + store) →
huey task queue → `jobs` (download, engine via `render`, deliver) → Telegram. The engine
never imports anything from here.
"""
