"""The TIXnGO sandbox over real HTTP on loopback (no mocks)."""

from __future__ import annotations

import json

import httpx
import pytest

from sandboxes.tixngo.app import encode_key

KEY = {"X-Api-Key": "tixngo-key"}
EVENT = {"name": "Concert", "startTime": "2027-06-01T20:00:00+02:00", "expirationDate": "2027-06-02T02:00:00+02:00",
         "address": {"site": "Zénith", "city": "Toulouse", "countryCode": "FR", "zip": "31300"},
         "website": "https://example.org/concert"}


def ticket(tid, **extra):
    body = {"ticketId": tid, "eventId": "EV1", "barcode": f"BC{tid}", "fileId": 900, "category": "CAT1",
            "price": 42.5, "currency": "EUR", "sortingKey": tid,
            "spectatorDetails": {"gender": "FEMALE", "firstName": "Ada", "lastName": "Lovelace",
                                 "email": f"ada{tid}@example.org", "birthDate": "1990-12-10", "idNumber": "X1",
                                 "countryCode": "FR", "birthRegion": "Occitanie", "birthPlace": "Albi"},
            "mainApplicant": True, "activationParameters": {"method": "online", "time": "2027-06-01T18:00:00Z"}}
    body.update(extra)
    return body


@pytest.fixture
def tix(sandbox):
    handle = sandbox("tixngo")
    handle.seed(deletion_delay_s=0, tx_confirm_s=3600)
    client = httpx.Client(base_url=handle.url + "/organizer", headers=KEY, timeout=10)
    assert client.put("/events/EV1", json=EVENT).status_code == 201
    handle.api = client
    yield handle
    client.close()


def inject(tix, *tickets):
    response = tix.api.post("/tickets", json={"tickets": list(tickets)})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def read_log(tix, key="", limit=10000):
    response = tix.api.get("/report/ticket-status-logs", params={"paginationKey": key, "limit": limit})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_bad_or_missing_key_is_refused_with_401(tix):
    for headers in ({}, {"X-Api-Key": "wrong"}):
        for method, path in (("PUT", "/events/EV2"), ("POST", "/tickets"), ("GET", "/tickets/1"),
                             ("GET", "/report/ticket-status-logs"), ("POST", "/tickets/delete")):
            response = httpx.request(method, tix.url + "/organizer" + path, json={}, headers=headers)
            assert response.status_code == 401 and response.json()["error"] == "bad API key"
    tix.seed(api_key="other")
    assert tix.api.get("/tickets/1").status_code == 401
    assert httpx.get(tix.url + "/organizer/tickets/1", headers={"X-Api-Key": "other"}).status_code == 404


def test_event_put_is_idempotent_and_validates_fields(tix):
    again = tix.api.put("/events/EV1", json=EVENT)
    assert again.status_code == 200 and again.json()["created"] is False
    renamed = tix.api.put("/events/EV1", json={**EVENT, "name": "Concert (moved)"})
    assert renamed.status_code == 200 and renamed.json()["event"]["name"] == "Concert (moved)"
    assert list(tix.state()["data"]["events"]) == ["EV1"]
    for bad, field in (({**EVENT, "name": ""}, "name"), ({**EVENT, "startTime": "tomorrow"}, "startTime"),
                       ({k: v for k, v in EVENT.items() if k != "expirationDate"}, "expirationDate"),
                       ({**EVENT, "expirationDate": "2027-05-01T00:00:00Z"}, "expirationDate"),
                       ({**EVENT, "address": {**EVENT["address"], "countryCode": "France"}}, "address.countryCode"),
                       ({**EVENT, "website": "ftp:/x"}, "website")):
        response = tix.api.put("/events/EV9", json=bad)
        assert response.status_code == 400 and response.json()["field"] == field
    assert tix.api.put("/events/EV9", content=b"[1]").json()["field"] == "body"


def test_injection_injected_already_injected_and_rejected_naming_the_field(tix):
    first = inject(tix, ticket("1"), ticket("2"))
    assert [r["status"] for r in first] == ["INJECTED", "INJECTED"]
    again = inject(tix, ticket("1"), ticket("3"))
    assert [r["status"] for r in again] == ["ALREADY_INJECTED", "INJECTED"]
    assert tix.state()["data"]["counts"]["INJECTED"] == 3
    bad = inject(tix, ticket("4", eventId="NOPE"), ticket("5", barcode=""), ticket("6", price=-1),
                 ticket("7", currency="euro"),
                 ticket("8", spectatorDetails={"email": "not-an-email"}),
                 ticket("9", spectatorDetails={"birthDate": "10/12/1990"}),
                 ticket("10", activationParameters={"method": "carrier-pigeon"}),
                 ticket("11", mainApplicant="yes"), {"eventId": "EV1", "barcode": "X"}, "junk")
    assert [r["status"] for r in bad] == ["REJECTED"] * 10
    assert [r["field"] for r in bad] == ["eventId", "barcode", "price", "currency", "spectatorDetails.email",
                                         "spectatorDetails.birthDate", "activationParameters.method",
                                         "mainApplicant", "ticketId", "ticket"]
    assert all(r["error"].startswith(r["field"]) for r in bad)
    assert tix.api.get("/tickets/4").status_code == 404
    details = tix.api.get("/tickets/1").json()
    assert details["status"] == "INJECTED" and details["barcode"] == "BC1" and details["ownerId"].startswith("W-")
    assert details["holder"] == {"firstName": "Ada", "lastName": "Lovelace", "email": "ada1@example.org"}
    inject_entries = [e for e in read_log(tix)["logs"] if e["action"] == "INJECT"]
    assert [e["ticketId"] for e in inject_entries] == ["1", "2", "3"]  # never a second ticket


def test_more_than_1000_tickets_is_a_400_and_bad_bodies_too(tix):
    response = tix.api.post("/tickets", json={"tickets": [ticket(str(i)) for i in range(1001)]})
    assert response.status_code == 400 and response.json()["field"] == "tickets"
    assert tix.state()["data"]["counts"]["INJECTED"] == 0
    assert tix.api.post("/tickets", json={"ticket": []}).status_code == 400
    assert tix.api.post("/tickets", content=b"{").status_code == 400
    assert [r["status"] for r in inject(tix, *[ticket(str(i)) for i in range(1000)])] == ["INJECTED"] * 1000


def test_partial_fault_refuses_chosen_ids_and_a_retry_injects_them(tix):
    tix.faults(partial={"ids": ["2"]})
    results = inject(tix, ticket("1"), ticket("2"), ticket("3"))
    assert [r["status"] for r in results] == ["INJECTED", "REJECTED", "INJECTED"]
    assert tix.api.get("/tickets/2").status_code == 404
    tix.clear_faults()
    assert [r["status"] for r in inject(tix, ticket("1"), ticket("2"), ticket("3"))] == [
        "ALREADY_INJECTED", "INJECTED", "ALREADY_INJECTED"]


def test_delete_goes_pending_then_deleted_in_the_log_and_a_reprint_comes_back(tix):
    tix.seed(deletion_delay_s=3600)
    inject(tix, ticket("1"), ticket("2"))
    response = tix.api.post("/tickets/delete", json={"ticketIds": ["1", "nope"]})
    assert [(r["ticketId"], r["status"]) for r in response.json()["results"]] == [
        ("1", "DELETION_PENDING"), ("nope", "REJECTED")]
    assert tix.api.get("/tickets/1").json()["status"] == "DELETION_PENDING"
    assert inject(tix, ticket("1"))[0]["status"] == "ALREADY_INJECTED"  # still there while pending
    assert read_log(tix)["logs"][-1]["toStatus"] == "DELETION_PENDING"
    tix.seed(deletion_delay_s=0)  # due at the next read
    entries = [(e["ticketId"], e["action"], e["fromStatus"], e["toStatus"]) for e in read_log(tix)["logs"]]
    assert entries == [("1", "INJECT", None, "INJECTED"), ("2", "INJECT", None, "INJECTED"),
                       ("1", "DELETE", "INJECTED", "DELETION_PENDING"), ("1", "DELETE", "DELETION_PENDING", "DELETED")]
    again = tix.api.post("/tickets/delete", json={"ticketIds": ["1"]}).json()["results"]
    assert again == [{"ticketId": "1", "status": "DELETED"}]
    # a reprint: same id, new barcode
    assert inject(tix, ticket("1", barcode="NEW1"))[0]["status"] == "INJECTED"
    details = tix.api.get("/tickets/1").json()
    assert details["status"] == "INJECTED" and details["barcode"] == "NEW1"
    last = read_log(tix)["logs"][-1]
    assert (last["action"], last["fromStatus"], last["toStatus"]) == ("INJECT", "DELETED", "INJECTED")
    assert tix.state()["data"]["counts"]["INJECTED"] == 2


def test_control_is_idempotent_and_logged_as_a_burn(tix):
    inject(tix, ticket("1"))
    body = {"tickets": [{"ticketId": "1", "controlledAt": "2027-06-01T20:05:00+02:00"},
                        {"ticketId": "9", "controlledAt": "2027-06-01T20:05:00+02:00"},
                        {"ticketId": "1", "controlledAt": "soon"}]}
    results = tix.api.post("/tickets/control", json=body).json()["results"]
    assert [(r["status"], r.get("field")) for r in results] == [
        ("CONTROLLED", None), ("REJECTED", "ticketId"), ("REJECTED", "controlledAt")]
    assert tix.api.post("/tickets/control", json=body).json()["results"][0]["status"] == "CONTROLLED"
    assert tix.api.get("/tickets/1").json()["status"] == "CONTROLLED"
    burns = [e for e in read_log(tix)["logs"] if e["action"] == "BURN"]
    assert len(burns) == 1 and burns[0]["toStatus"] == "CONTROLLED"


def test_log_pagination_resumes_exactly_at_a_key(tix):
    inject(tix, *[ticket(str(i)) for i in range(10)])
    everything = read_log(tix)
    assert len(everything["logs"]) == 10
    pages, key = [], ""
    while True:
        page = read_log(tix, key, limit=3)
        if not page["logs"]:
            break
        assert len(page["logs"]) <= 3
        pages += page["logs"]
        key = page["nextPageKey"]
    assert pages == everything["logs"]
    assert read_log(tix, key, limit=3)["nextPageKey"] == key  # nothing new: the same key
    inject(tix, ticket("10"), ticket("11"))
    later = read_log(tix, key, limit=3)
    assert [e["ticketId"] for e in later["logs"]] == ["10", "11"]  # appended after the stored key
    for entry in pages:
        assert entry["txHash"].startswith("0x") and len(entry["txHash"]) == 66
        int(entry["txHash"], 16)
    assert len({e["txHash"] for e in pages}) == 10
    assert read_log(tix)["logs"][0]["txHash"] == pages[0]["txHash"]  # deterministic
    beyond = {"paginationKey": encode_key(13)}  # a well-formed key past the end was never given
    for params in ({"limit": 10001}, {"limit": 0}, {"limit": "x"}, {"paginationKey": "garbage!"}, beyond):
        response = tix.api.get("/report/ticket-status-logs", params=params)
        assert response.status_code == 400


def test_transactions_are_confirmed_or_ko_later_by_an_appended_entry(tix):
    inject(tix, ticket("1"))
    first = read_log(tix)["logs"]
    assert [e["txState"] for e in first] == ["PENDING"]
    tix.seed(tx_confirm_s=0)
    logs = read_log(tix)["logs"]
    assert [e["txState"] for e in logs] == ["PENDING", "CONFIRMED"]
    assert logs[1]["txHash"] == logs[0]["txHash"] and logs[1]["toStatus"] == "INJECTED"
    tix.seed(tx_ko_rate=1.0)
    inject(tix, ticket("2"))
    assert [e["txState"] for e in read_log(tix)["logs"][2:]] == ["PENDING", "KO"]
    assert tix.api.get("/tickets/2").json()["status"] == "INJECTED"  # a KO changes nothing in the wallet


def test_transfer_and_activate_show_in_details_and_log(tix):
    inject(tix, ticket("1"), ticket("2"))
    owner = tix.api.get("/tickets/1").json()["ownerId"]
    activated = tix.control.post("/tickets/1/activate")
    assert activated.status_code == 200 and activated.json()["status"] == "ACTIVATED"
    friend = {"firstName": "Grace", "lastName": "Hopper", "email": "grace@example.org"}
    moved = tix.control.post("/tickets/1/transfer", json={"toOwner": "W-friend", "holder": friend})
    assert moved.status_code == 200
    details = tix.api.get("/tickets/1").json()
    assert (details["status"], details["ownerId"], details["holder"]) == ("TRANSFERRED", "W-friend", friend)
    entries = [(e["action"], e["fromStatus"], e["toStatus"], e["fromOwnerId"], e["toOwnerId"])
               for e in read_log(tix)["logs"] if e["ticketId"] == "1"]
    assert entries == [("INJECT", None, "INJECTED", None, owner),
                       ("TRANSFER", "INJECTED", "RECEIVED", owner, owner),
                       ("TRANSFER", "RECEIVED", "ACTIVATED", owner, owner),
                       ("TRANSFER", "ACTIVATED", "TRANSFER_PENDING", owner, owner),
                       ("TRANSFER", "TRANSFER_PENDING", "TRANSFERRED", owner, "W-friend")]
    assert read_log(tix)["logs"][-1]["holder"] == friend
    assert tix.control.post("/tickets/2/receive").json()["status"] == "RECEIVED"
    assert tix.control.post("/tickets/9/activate").status_code == 404
    assert tix.control.post("/tickets/2/transfer", json={}).json()["field"] == "toOwner"
    tix.api.post("/tickets/delete", json={"ticketIds": ["2"]})
    assert tix.control.post("/tickets/2/activate").status_code == 409


def test_privilege_definition_and_cards(tix):
    inject(tix, ticket("1"), ticket("2"))
    definition = {"name": "Season 2027", "type": "SEASON_CARD", "validFrom": "2027-01-01T00:00:00Z",
                  "validUntil": "2027-12-31T23:59:59Z"}
    assert tix.api.put("/privileges/SEASON27", json=definition).status_code == 201
    assert tix.api.put("/privileges/SEASON27", json=definition).status_code == 200
    assert tix.api.put("/privileges/BAD", json={**definition, "type": "GIFT"}).json()["field"] == "type"
    cards = {"cards": [{"cardId": "C1", "barcode": "CARD1", "ticketIds": ["1", "2"]},
                       {"cardId": "C2", "barcode": "CARD2"},
                       {"cardId": "C3", "barcode": "CARD3", "ticketIds": ["1", "nope"]},
                       {"cardId": "C4"}]}
    results = tix.api.post("/privileges/SEASON27/cards", json=cards).json()["results"]
    assert [(r["status"], r.get("field")) for r in results] == [
        ("INJECTED", None), ("INJECTED", None), ("REJECTED", "ticketIds[1]"), ("REJECTED", "barcode")]
    again = tix.api.post("/privileges/SEASON27/cards", json={"cards": cards["cards"][:1]}).json()["results"]
    assert again == [{"cardId": "C1", "status": "ALREADY_INJECTED"}]
    assert tix.api.post("/privileges/NOPE/cards", json=cards).status_code == 404
    stored = tix.state()["data"]["privileges"]["SEASON27"]
    assert stored["cards"]["C1"]["ticketIds"] == ["1", "2"] and stored["cards"]["C1"]["transferable"] is False
    assert sorted(stored["cards"]) == ["C1", "C2"]


def test_faults_429_with_retry_after_and_down(tix):
    tix.faults(rate_limit={"count": 1, "retry_after": 2})
    response = tix.api.post("/tickets", json={"tickets": [ticket("1")]})
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert tix.api.get("/tickets/1").status_code == 404  # nothing was injected
    assert inject(tix, ticket("1"))[0]["status"] == "INJECTED"
    tix.faults(down=True, retry_after=5)
    down = tix.api.get("/tickets/1")
    assert down.status_code == 503 and down.headers["Retry-After"] == "5"
    assert tix.state()["data"]["counts"]["INJECTED"] == 1  # control endpoints still answer
    tix.clear_faults()
    tix.faults(fail_next={"count": 1, "status": 502})
    assert tix.api.get("/tickets/1").status_code == 502
    assert tix.api.get("/tickets/1").status_code == 200
    assert [r["fault"] for r in tix.requests("/organizer/tickets")] == ["429", None]
    assert [r["fault"] for r in tix.requests("/organizer/tickets/1")] == [None, "down", "fail:502", None]


def test_seed_state_reset_and_state_file(sandbox, tmp_path):
    path = tmp_path / "tixngo.json"
    first = sandbox("tixngo", state_file=str(path))
    first.seed(api_key="k2", deletion_delay_s=5, events={"EV1": EVENT})
    api = httpx.Client(base_url=first.url + "/organizer", headers={"X-Api-Key": "k2"})
    assert api.post("/tickets", json={"tickets": [ticket("1")]}).json()["results"][0]["status"] == "INJECTED"
    api.close()
    state = first.state()["data"]
    assert state["api_key"] == "k2" and state["deletion_delay_s"] == 5.0
    assert state["counts"]["INJECTED"] == 1 and state["tickets"]["1"]["status"] == "INJECTED"
    assert state["tickets"]["1"]["sent"] == ticket("1")  # what was injected, field for field
    assert first.control.get("/counts").json() == {"counts": state["counts"], "tickets": 1, "log_size": 1}
    first.stop()
    assert json.loads(path.read_text())["tickets"]["1"]["barcode"] == "BC1"
    second = sandbox("tixngo", state_file=str(path))
    assert httpx.get(second.url + "/organizer/tickets/1", headers={"X-Api-Key": "k2"}).json()["status"] == "INJECTED"
    second.reset()
    data = second.state()["data"]
    assert data["api_key"] == "tixngo-key" and data["tickets"] == {} and data["log_size"] == 0


def test_the_injection_bench_runs_at_a_tiny_size():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "bench" / "tixngo_sandbox.py"
    done = subprocess.run([sys.executable, str(script), "--n", "2500", "--batch", "1000"], capture_output=True,
                          text=True, timeout=120, check=True)
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert line["bench"] == "tixngo_sandbox_inject" and line["n"] == 2500 and line["calls"] == 3
    assert line["tickets_per_s"] > 0 and line["rss_mb"] > 0
