"""The ingest baseline: the least an event endpoint can do. Parse the JSON, one Redis write.

Served by the same framework and server settings as ``notifier api`` (FastAPI, uvicorn, one
process, a synchronous handler on the thread pool), so the ratio measures what notifier's
validation, planning and atomic storing cost on top.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import redis
import uvicorn
from fastapi import FastAPI

client = redis.Redis.from_url(os.environ["NOTIFIER_REDIS_URL"])
app = FastAPI()


@app.post("/v1/events", status_code=202)
def post_event(event: dict[str, Any]) -> dict[str, str]:
    client.set(f"minimal:{event['id']}", str(event), ex=3600)
    return {"event_id": event["id"]}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
