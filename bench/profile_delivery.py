"""Where a delivery's time goes: ``python -m bench.profile_delivery`` (needs pyinstrument).

Delivers due reminders one after the other, in this process, through the real deliverer and
a zero-latency channel, under pyinstrument. Sequential on purpose: the profile then shows
our code and our Redis round trips, not Dramatiq's threads waiting for work.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta

from pyinstrument import Profiler

from bench.common import ZeroLatencyTransport, due_now, load_pending, private_server


def main(count: int = 3000) -> None:
    with private_server() as url:
        os.environ |= {
            "NOTIFIER_REDIS_URL": f"{url}/0",
            "NOTIFIER_RATE_LIMIT_SMS_PER_SECOND": "0",
            "NOTIFIER_LOG_LEVEL": "WARNING",
        }
        import workers.actors
        from notifier.models import Channel
        from notifier.runtime.settings import get_settings
        from notifier.store import Store

        sent = ZeroLatencyTransport()
        deliverer = workers.actors.build_deliverer(get_settings(), dict.fromkeys(Channel, sent))
        store = Store.from_url(f"{url}/0", contact_key=get_settings().secret())  # as the API
        load_pending(store, count, due_now)
        claims = store.claim_due(datetime.now(UTC), limit=count, lease=timedelta(minutes=30))
        profiler = Profiler(interval=0.0005)
        profiler.start()
        started = time.perf_counter()
        for claimed in claims:
            deliverer.deliver(claimed.message_id, claimed.claim)
        elapsed = time.perf_counter() - started
        profiler.stop()
        print(f"{len(claims) / elapsed:,.0f} deliveries/s one at a time (profiler on)")
        print(profiler.output_text(unicode=True, color=sys.stdout.isatty()))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
