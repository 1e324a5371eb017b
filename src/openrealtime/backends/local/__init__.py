"""Embedded offline backends (Silero VAD, faster-whisper, llama.cpp, Piper).

Each module imports its heavy library lazily, inside the loader, so importing
this package stays cheap.
"""
