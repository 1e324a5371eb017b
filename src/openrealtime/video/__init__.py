"""Video understanding (a timestamped brief of a video) and generation (script → short)."""
