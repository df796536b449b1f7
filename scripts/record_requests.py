"""A pass-through logger: forwards every request to an upstream server and records it.

Put it between a chat frontend and ``rag serve`` to see exactly what the frontend sends
(the fixtures under ``tests/data/openwebui/`` were recorded this way):

    python scripts/record_requests.py --upstream http://127.0.0.1:8000 --port 8001 \\
        --out requests.jsonl

Each request becomes one JSON line: method, path, headers (``Authorization`` and cookies
redacted), the JSON body, and the status of the upstream's reply. Replies, streamed ones
included, pass through unchanged.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

_SECRET_HEADERS = {"authorization", "cookie", "x-api-key", "api-key"}
_HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}


def create_app(upstream: str, out: Path) -> Starlette:
    client = httpx.AsyncClient(base_url=upstream, timeout=None, trust_env=False)
    lock = threading.Lock()

    async def forward(request: Request) -> StreamingResponse:
        body = await request.body()
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = body.decode("utf-8", "replace")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        upstream_request = client.build_request(
            request.method,
            request.url.path,
            params=request.query_params,
            headers=headers,
            content=body,
        )
        response = await client.send(upstream_request, stream=True)
        record = {
            "time": round(time.time(), 3),
            "method": request.method,
            "path": request.url.path,
            "query": str(request.query_params),
            "headers": {
                k: ("<redacted>" if k.lower() in _SECRET_HEADERS else v)
                for k, v in request.headers.items()
            },
            "json": payload,
            "status": response.status_code,
        }
        with lock, out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        passed = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in _HOP_HEADERS | {"content-encoding"}
        }
        return StreamingResponse(
            response.aiter_raw(),
            status_code=response.status_code,
            headers=passed,
            background=BackgroundTask(response.aclose),
        )

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:8000")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--out", type=Path, required=True, help="JSON lines file to append to")
    args = parser.parse_args()
    uvicorn.run(create_app(args.upstream, args.out), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
