"""Usage and cost: price tables, cost estimates, and session recordings.

``price`` holds the hosted presets and the self-hosted CPU rate; ``estimate`` turns
``usage`` objects or minutes of talk into token counts and dollars; ``recording`` writes
and reads a session's server events (``openrealtime serve --record DIR``); ``report``
prints the tables of ``openrealtime cost``.
"""
