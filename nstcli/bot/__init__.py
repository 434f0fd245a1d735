"""`nst serve-bot` / `nst worker`: a Telegram front end over the engine.

Data flows one way: Telegram updates → `intake` (stored in the inbox before they are
confirmed, per-user lanes) → `service` (conversation state machine, `actions`) → huey task
queue → `jobs` (download, engine via `execute`, deliver) → Telegram; `tracking` follows the
jobs. The engine never imports anything from here.
"""
