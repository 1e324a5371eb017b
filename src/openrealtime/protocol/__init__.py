"""Wire models of the OpenAI Realtime protocol (GA names inside) and the dialect codecs."""
