"""The real local LLM server, started once per test session, and a tiny scripted HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rft_runtime.llm.local_server import LocalLLMServer
from rft_runtime.llm.settings import LLMSettings


@pytest.fixture(scope="session")
def local_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLLMServer]:
    """SmolLM2 behind the OpenAI API on a free loopback port (the dequantized checkpoint is
    cached under RFT_LLM_CACHE_DIR, ~/.cache/rft/models by default, so only the first run pays)."""
    log_path: Path = tmp_path_factory.mktemp("llm") / "server.log"
    server = LocalLLMServer(LLMSettings(), log_path=log_path)
    server.start()
    yield server
    server.stop()


@dataclass
class Reply:
    status: int
    body: dict[str, object] | str
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ScriptedServer:
    """A real HTTP server on loopback that answers POSTs from a script, and records them."""

    base_url: str
    requests: list[dict[str, object]]
    max_in_flight: int
    authorizations: list[str | None] = field(default_factory=list)


def completion_body(content: str = "ok", choices: int = 1) -> dict[str, object]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "scripted",
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": f"{content}-{i}"},
             "finish_reason": "stop"}
            for i in range(choices)
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }


@pytest.fixture
def scripted_server() -> Iterator[Callable[[Callable[[int], Reply]], ScriptedServer]]:
    """``start(script)``: ``script(k)`` is the reply to the k-th request (0-based)."""
    servers: list[ThreadingHTTPServer] = []

    def start(script: Callable[[int], Reply]) -> ScriptedServer:
        lock = threading.Lock()
        state = ScriptedServer(base_url="", requests=[], max_in_flight=0)
        in_flight = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                nonlocal in_flight
                length = int(self.headers.get("content-length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                with lock:
                    index = len(state.requests)
                    state.requests.append(payload)
                    state.authorizations.append(self.headers.get("authorization"))
                    in_flight += 1
                    state.max_in_flight = max(state.max_in_flight, in_flight)
                reply = script(index)
                time.sleep(reply.delay_s)
                with lock:
                    in_flight -= 1
                raw = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = raw.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test): nobody to answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        servers.append(server)
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        return state

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
