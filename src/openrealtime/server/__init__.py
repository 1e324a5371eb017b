"""The HTTP/WebSocket server (Starlette + uvicorn)."""
