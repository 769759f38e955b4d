"""OpenAI's Realtime API (GA): JSON events both ways on one WebSocket, text or synthesized
audio out, function calls mid-conversation."""
