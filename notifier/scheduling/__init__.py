"""Schedule: claim the messages that fall due and hand them to the delivery workers.

``scheduler`` — the loop that claims due messages in batches (atomic, so several
schedulers may run at once) and enqueues them; ``broker`` — Dramatiq's Redis broker and the
delivery message, up to 50 claims each, that the scheduler queues and the workers consume.
"""
