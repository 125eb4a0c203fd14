"""A local stand-in for the Anthropic Messages API: an HTTP server on 127.0.0.1, port 0.

Each request takes the next scripted action; the request bodies are kept for inspection. The real
`anthropic` SDK talks to it through `base_url`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

QUOTE = "<<first patient turn>>"


def tool_message(
    items: list[int | None],
    *,
    input_tokens: int = 100,
    output_tokens: int = 40,
    name: str = "record_phq9",
) -> dict:
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [
            {
                "type": "tool_use",
                "id": "toolu_test",
                "name": name,
                "input": {
                    "items": [
                        {
                            "assessable": s is not None,
                            "score": s or 0,
                            # QUOTE: the fake puts the request's first patient turn here (a real quote).
                            "quotes": [QUOTE] if s else [],
                        }
                        for s in items
                    ],
                },
            }
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def _first_patient_turn(request: dict) -> str:
    """The first patient turn of a labelling request, JSON-escaped (what a model would quote)."""
    messages = request.get("messages") or [{}]
    content = messages[0].get("content", "")
    for line in content.splitlines() if isinstance(content, str) else []:
        if "] patient: " in line:
            return json.dumps(line.split("] patient: ", 1)[1][:80])[1:-1]
    return ""


class FakeAnthropic:
    def __init__(self) -> None:
        self.actions: deque[tuple[str, Any]] = deque()
        self.default: tuple[str, Any] = ("json", (200, tool_message([1] * 9)))
        self.requests: list[dict] = []
        self.batches: dict[str, dict] = {}
        self.batch_polls = 1  # retrievals before a batch has ended
        self.batch_outcomes: dict[str, str] = {}  # custom id -> "errored" | "expired" | "canceled"
        self.batch_scores: list[int | None] = [1] * 9
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def ok(self, items: list[int], **kwargs: Any) -> None:
        self.actions.append(("json", (200, tool_message(items, **kwargs))))

    def status(self, code: int, headers: dict[str, str] | None = None) -> None:
        error = {"type": "error", "error": {"type": "api_error", "message": f"status {code}"}}
        self.actions.append(("json", (code, error, headers or {})))

    def raw(self, body: dict) -> None:
        self.actions.append(("json", (200, body)))

    def hang(self, seconds: float) -> None:
        self.actions.append(("hang", seconds))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, payload: bytes, content_type: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:  # noqa: N802
                # Message Batches: /v1/messages/batches/<id> and /v1/messages/batches/<id>/results
                parts = self.path.split("?")[0].strip("/").split("/")
                batch = fake.batches.get(parts[3]) if len(parts) >= 4 else None
                if batch is None:
                    self._send(
                        404, json.dumps({"type": "error", "error": {"type": "not_found_error"}}).encode()
                    )
                elif len(parts) == 5 and parts[4] == "results":
                    self._send(200, fake.batch_results(parts[3]).encode(), "application/binary")
                else:
                    batch["polls"] += 1
                    self._send(200, json.dumps(fake.batch_json(parts[3])).encode())

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.split("?")[0].rstrip("/").endswith("/messages/batches"):
                    batch_id = f"msgbatch_{len(fake.batches) + 1:04d}"
                    fake.batches[batch_id] = {"requests": body["requests"], "polls": 0}
                    self._send(200, json.dumps(fake.batch_json(batch_id)).encode())
                    return
                fake.requests.append(body)
                kind, arg = fake.actions.popleft() if fake.actions else fake.default
                if kind == "hang":
                    time.sleep(arg)
                    return
                code, body, *rest = arg
                payload = json.dumps(body).replace(
                    json.dumps(QUOTE)[1:-1], _first_patient_turn(fake.requests[-1])
                )
                payload = payload.encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for key, value in (rest[0] if rest else {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    @property
    def sent_texts(self) -> list[str]:
        return [r["messages"][0]["content"] for r in self.requests]

    # ---- Message Batches: a batch ends after `batch_polls` retrievals; per custom id the result is
    # "succeeded" (the default scores), or what `batch_outcomes` says ("errored", "expired").
    def batch_json(self, batch_id: str) -> dict:
        batch = self.batches[batch_id]
        ended = batch["polls"] >= self.batch_polls
        n = len(batch["requests"])
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": {
                "processing": 0 if ended else n,
                "succeeded": n if ended else 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },
            "created_at": "2026-12-02T10:00:00Z",
            "expires_at": "2026-12-03T10:00:00Z",
            "ended_at": "2026-12-02T11:00:00Z" if ended else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.base_url}/v1/messages/batches/{batch_id}/results" if ended else None,
        }

    def batch_results(self, batch_id: str) -> str:
        lines = []
        for request in self.batches[batch_id]["requests"]:
            custom_id = request["custom_id"]
            outcome = self.batch_outcomes.get(custom_id, "succeeded")
            if outcome == "succeeded":
                message = json.loads(
                    json.dumps(tool_message(self.batch_scores)).replace(
                        json.dumps(QUOTE)[1:-1], _first_patient_turn(request["params"])
                    )
                )
                result: dict = {"type": "succeeded", "message": message}
            elif outcome == "errored":
                result = {
                    "type": "errored",
                    "error": {"type": "error", "error": {"type": "api_error", "message": "x"}},
                }
            else:
                result = {"type": outcome}
            lines.append(json.dumps({"custom_id": custom_id, "result": result}))
        return "\n".join(lines) + "\n"


@contextmanager
def fake_anthropic() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def client_for(fake: FakeAnthropic, *, timeout: float = 5.0) -> Any:
    import anthropic

    return anthropic.Anthropic(api_key="test-key", base_url=fake.base_url, max_retries=0, timeout=timeout)
