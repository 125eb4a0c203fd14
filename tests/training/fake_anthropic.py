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
    confidence: float = 0.8,  # unused since prompt v2 (confidence comes from agreement); kept for callers
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

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length", 0))
                fake.requests.append(json.loads(self.rfile.read(length) or b"{}"))
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
