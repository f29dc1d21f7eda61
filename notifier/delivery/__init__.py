"""Deliver: one attempt of one message, from its claim to its recorded outcome.

``decisions`` — the attempt's pure decisions, each returning one ``Verdict`` (before the send,
for a channel, before and after the provider call, after an interrupted call; the backoff),
table-tested; ``acts`` — one claim's acts against the store (begin, mark the call, note,
record: the one ``finish``); ``attempt`` — the :class:`Deliverer` runs a claim's steps with
the renderer and a channel's transport; ``figures`` — what it counts (Prometheus, or
nothing); ``pool`` — the send threads a worker process shares between its batches;
``ratelimit`` — each channel's send rate, shared by every worker through Redis.
"""
