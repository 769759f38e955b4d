"""Google's Gemini Live API: BidiGenerateContent over a WebSocket."""
