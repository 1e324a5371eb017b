"""Turn a video into a timestamped brief: shots, speech, on-screen text, events, rhythm."""
