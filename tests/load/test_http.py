"""The load users' HTTP (load/http.py): what reaches the server, kept connections and their expiry, and
failures as a HIS reads them (httpx's errors, a POST never sent twice)."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest

from yidi.load.http import Gateways

TLS = ssl.create_default_context()


class Recorder(BaseHTTPRequestHandler):
    """Answers every POST with what it received; ``close`` mode: reads it and closes without answering."""

    protocol_version = "HTTP/1.1"  # keep-alive
    seen: ClassVar[list[dict[str, Any]]] = []
    close = False
    hang_up_after = False  # answers, then closes the connection without saying so (a restart, a timeout)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        Recorder.seen.append({"headers": dict(self.headers), "body": body, "peer": self.client_address[1]})
        if Recorder.close:
            self.close_connection = True
            return
        answer = json.dumps({"infcode": 0, "got": json.loads(body)}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        self.close_connection = Recorder.hang_up_after

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.seen, Recorder.close, Recorder.hang_up_after = [], False, False
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_message_arrives_as_json_with_its_headers_and_the_answer_reads_back(server: str) -> None:
    gateways = Gateways(timeout=5, tls=TLS)
    message = {"infno": "1101", "input": {"data": {"psn_name": "张三"}}}
    answer = gateways.post(f"{server}/gw/510000/1101", json=message, headers={"x-tif-paasid": "p1"})
    (seen,) = Recorder.seen
    assert json.loads(seen["body"]) == message and seen["headers"]["x-tif-paasid"] == "p1"
    assert seen["headers"]["content-type"] == "application/json"
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.json() == {"infcode": 0, "got": message}
    gateways.close()


def test_a_connection_is_kept_while_fresh_and_dropped_once_idle_past_its_expiry(server: str) -> None:
    gateways = Gateways(timeout=5, tls=TLS, keepalive_expiry=0.3)
    for _ in range(3):
        gateways.post(f"{server}/gw/1", json={}, headers={})
    time.sleep(0.5)  # idle past the expiry: the server may be closing it, so a new one
    gateways.post(f"{server}/gw/1", json={}, headers={})
    peers = [s["peer"] for s in Recorder.seen]
    assert peers[0] == peers[1] == peers[2] != peers[3]
    gateways.close()


def test_a_connection_the_server_closed_while_idle_is_not_used_again(server: str) -> None:
    Recorder.hang_up_after = True
    gateways = Gateways(timeout=5, tls=TLS)  # well within the expiry: the closed connection must be noticed
    for _ in range(3):
        assert gateways.post(f"{server}/gw/1", json={"infno": "2301"}, headers={}).status_code == 200
        time.sleep(0.2)  # idle: the server's close lands meanwhile
    assert len({s["peer"] for s in Recorder.seen}) == 3  # each message on a new connection, none lost
    gateways.close()


def test_an_answer_never_sent_is_a_transport_error_and_the_post_is_not_sent_again(server: str) -> None:
    Recorder.close = True
    gateways = Gateways(timeout=5, tls=TLS)
    with pytest.raises(httpx.TransportError):
        gateways.post(f"{server}/gw/1", json={"infno": "2304"}, headers={})
    assert len(Recorder.seen) == 1  # a settlement is never sent twice by the transport
    Recorder.close = False  # and the next message goes through on a new connection
    assert gateways.post(f"{server}/gw/1", json={}, headers={}).status_code == 200
    gateways.close()


def test_a_refused_connection_is_a_transport_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens once closed
    with pytest.raises(httpx.TransportError):
        Gateways(timeout=5, tls=TLS).post(f"http://127.0.0.1:{port}/gw/1", json={}, headers={})
