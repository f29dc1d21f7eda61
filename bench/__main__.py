"""``python -m bench``: every benchmark, one private server, a results table at the end.

The environment is set before anything imports the worker package, so the Dramatiq broker
and the worker's settings point at the benchmark's own server.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from bench.common import Result, private_server, progress

GOAL_MISSED = 3  # exit status when a measure misses its goal (a crash exits with 1)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--count", type=int, default=5000, help="messages per throughput round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each throughput test")
    parser.add_argument("--pending", type=int, default=1_000_000, help="far-future reminders")
    parser.add_argument("--steady-seconds", type=int, default=30, help="lateness test length")
    parser.add_argument(
        "--dramatiq-delayed", type=int, default=100_000, help="delayed tasks ahead (Dramatiq)"
    )
    parser.add_argument(
        "--dramatiq-patience", type=float, default=30.0, help="how long to wait for its 1-s task"
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="each ingest measurement")
    parser.add_argument(
        "--only", nargs="*", default=None, help="pipeline, ingest, pending, latency (default: all)"
    )
    parser.add_argument("--latency", type=float, default=0.2, help="provider latency, seconds")
    parser.add_argument("--latency-count", type=int, default=4000, help="messages per channel")
    args = parser.parse_args()
    results: list[Result] = []
    with private_server() as url:
        os.environ |= {
            "NOTIFIER_REDIS_URL": f"{url}/0",
            "NOTIFIER_RATE_LIMIT_SMS_PER_SECOND": "0",
            "NOTIFIER_RATE_LIMIT_EMAIL_PER_SECOND": "0",
            "NOTIFIER_RATE_LIMIT_WEBPUSH_PER_SECOND": "0",
            "NOTIFIER_LOG_LEVEL": "WARNING",
        }
        import workers  # noqa: F401  (configures the broker from the environment above)

        chosen = set(args.only or ["pipeline", "ingest", "pending", "latency"])
        if "pipeline" in chosen:
            from bench import pipeline

            results += pipeline.run(url, args.count, args.rounds)
        if "ingest" in chosen:
            from bench import ingest

            results += ingest.run(url, args.rounds, args.seconds)
        if "latency" in chosen:
            from bench import latency

            results += latency.run(url, args.latency_count, args.latency)
        if "pending" in chosen:
            from bench import pending

            results += pending.run(
                url,
                args.pending,
                steady_seconds=args.steady_seconds,
                dramatiq_delayed=args.dramatiq_delayed,
                dramatiq_patience=args.dramatiq_patience,
            )
    print()
    print(f"Command: `make bench ARGS='{' '.join(sys.argv[1:])}'`")
    machine = f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    print(f"Machine: {machine}, {time.strftime('%Y-%m-%d')}\n")
    print("| Measure | Median (range, rounds) | Goal | Met |")
    print("|---|---|---|---|")
    for result in results:
        print(result.row())
    progress("done")
    return 0 if all(r.met is not False for r in results) else GOAL_MISSED


if __name__ == "__main__":
    sys.exit(main())
