"""The client's strict parsing: a partner answering garbage is a PartnerError quoting what came
back, over real HTTP (a loopback server that answers whatever the test sets)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from passgate.connectors.tixngo.client import TixngoClient, api_root
from passgate.jobs.partner_http import PartnerError, RetryPolicy


class Garbage(BaseHTTPRequestHandler):
    answer: tuple[int, bytes] = (200, b"{}")

    def _reply(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, body = self.server.answer
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _reply

    def log_message(self, *args):
        pass


@pytest.fixture
def garbage():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    server.answer = (200, b"{}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/organizer/tickets"
    client = TixngoClient(url, "k-123", retry=RetryPolicy(max_attempts=1))
    yield server, client
    client.close()
    server.shutdown()


def answer(server, body, status=200):
    server.answer = (status, body if isinstance(body, bytes) else json.dumps(body).encode())


def test_the_root_is_the_url_without_its_final_tickets():
    assert api_root("https://t.example/v2/organizer/tickets/") == "https://t.example/v2/organizer"


@pytest.mark.parametrize(("body", "named"), [
    (b"<html>maintenance</html>", "maintenance"),
    ({"logs": "nope", "nextPageKey": "k"}, "nope"),
    ({"logs": [], "nextPageKey": None}, "nextPageKey"),
    ({"logs": [{"ticketId": "1", "action": "EXPLODE", "toStatus": "INJECTED", "txHash": "0x1",
                "txState": "PENDING", "at": "2026-01-01T00:00:00Z"}], "nextPageKey": "k"}, "EXPLODE"),
    ({"logs": [{"ticketId": "1", "action": "INJECT", "toStatus": "INJECTED", "txHash": "0x1",
                "txState": "PENDING", "at": "yesterday"}], "nextPageKey": "k"}, "yesterday"),
])
def test_a_garbage_status_log_is_a_partner_error_naming_what_was_found(garbage, body, named):
    server, client = garbage
    answer(server, body)
    with pytest.raises(PartnerError) as caught:
        client.status_logs("", 10)
    assert named in str(caught.value.found)


def test_a_batch_answer_without_a_result_for_each_ticket_is_refused(garbage):
    server, client = garbage
    answer(server, {"results": [{"ticketId": "1", "status": "INJECTED"}]})
    with pytest.raises(PartnerError) as caught:
        client.inject_tickets([{"ticketId": "1"}, {"ticketId": "2"}])
    assert "missing 2" in caught.value.expected
    answer(server, {"results": [{"ticketId": "1", "status": "MAYBE"}]})
    with pytest.raises(PartnerError) as caught:
        client.inject_tickets([{"ticketId": "1"}])
    assert "MAYBE" in str(caught.value.found)


def test_a_wrong_api_key_is_named_as_the_secret(tix):
    with TixngoClient(tix.url + "/organizer/tickets", "wrong-key", retry=RetryPolicy(max_attempts=1)) as client:
        with pytest.raises(PartnerError) as caught:
            client.status_logs("", 10)
    assert caught.value.status == 401 and caught.value.field == "secret"
