"""Thin REST routers, one per resource: health, models, sessions (the websocket lives in server.ws)."""
