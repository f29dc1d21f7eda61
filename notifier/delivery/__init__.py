"""Deliver: one attempt of one message, from its claim to its recorded outcome.

``decisions`` — the attempt's pure decisions (which channel may be tried, what a failure
leads to, the backoff), table-tested; ``attempt`` — the acts: the :class:`Deliverer` runs
one claim against the store, the renderer and a channel's transport; ``pool`` — the send
threads a worker process shares between its batches; ``ratelimit`` — each channel's send
rate, shared by every worker through Redis.
"""
