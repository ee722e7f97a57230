"""The Otipass sandbox over real HTTP: auth, passes, usages, whitelist, control endpoints, faults."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from sandboxes.otipass.app import demo_seed, luhn_check_digit, luhn_valid, number_kind

AUTH = ("toulouse-user", "toulouse-key")
AUG, MSR, DUP = "PCUMID031FS00061", "PCUMID031FS00071", "PCUMID031FS0006E"


def numeric(payload: str) -> str:
    return payload + luhn_check_digit(payload)


ACTIVE = numeric("825000000001")
SERIAL = "TLSAB00002"
FIRST_USE = numeric("825000000003")
PASSES = {
    "CREATED": numeric("825000000010"),
    "INACTIVE": numeric("825000000011"),
    "EXPIRED": numeric("825000000012"),
    "INVALID": "TLSINV00013",
    "BLOCKED": numeric("825000000014"),
}
ONLY_AUG = numeric("825000000020")
NOT_YET = numeric("825000000021")
ENDED = numeric("825000000022")


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


NOW = dt.datetime.now(dt.UTC)


def project_seed() -> dict:
    return {"projects": {"toulouse": {
        "username": AUTH[0], "password": AUTH[1],
        "services": {s.lower() if s == AUG else s: {"pspaceId": f"PROVIDER#{s}", "name": s} for s in (AUG, MSR, DUP)},
        "passes": [
            {"number": ACTIVE, "state": "ACTIVE", "productRef": "PASSTOU"},
            {"number": SERIAL, "state": "ACTIVE", "productRef": "PASSTOU"},
            {"number": FIRST_USE, "state": "ACTIVE", "productRef": "PASS48", "validityHours": 48},
            *({"number": n, "state": s} for s, n in PASSES.items()),
            {"number": ONLY_AUG, "includedServices": [AUG.lower()]},
            {"number": NOT_YET, "validFrom": iso(NOW + dt.timedelta(days=2))},
            {"number": ENDED, "validUntil": iso(NOW - dt.timedelta(days=1))},
        ]}}}


@pytest.fixture
def oti(sandbox):
    handle = sandbox("otipass")
    handle.seed(**project_seed())
    handle.api = httpx.Client(base_url=handle.url + "/api/toulouse/v1", auth=AUTH, timeout=10)
    yield handle
    handle.api.close()


def usage(number: str, service: str = AUG, *, reference: str, offline: bool = False, used_at: str | None = None):
    return {"number": number, "serviceId": service, "pspaceId": f"PROVIDER#{service}",
            "usedAt": used_at or iso(dt.datetime.now(dt.UTC)), "offline": offline, "reference": reference}


def usages_in_state(oti, number: str | None = None) -> list[dict]:
    found = oti.state()["data"]["projects"]["toulouse"]["usages"]
    return [u for u in found if number is None or u["number"] == number]


# ---------------------------------------------------------------- numbers

def test_luhn_numbers_recognised_by_the_sandbox_check(oti):
    assert luhn_valid("79927398713") and not luhn_valid("79927398710") and not luhn_valid("7992739871x")
    assert luhn_check_digit("7992739871") == "3"
    assert number_kind("79927398713") == "numeric" and number_kind("79927398710") is None
    assert number_kind("TLS00012") == "serial" and number_kind("12AB") is None and number_kind("TL-1") is None
    bad = ACTIVE[:-1] + str((int(ACTIVE[-1]) + 1) % 10)
    refused = oti.control.post("/seed", json={"projects": {"toulouse": {"passes": [{"number": bad}]}}})
    assert refused.status_code == 400 and "Luhn" in refused.json()["error"]
    assert oti.api.get(f"/passes/{bad}").status_code == 404
    answer = oti.api.post("/usages", json=usage(bad, reference="r-bad"))
    assert answer.status_code == 422 and answer.json() == {"accepted": False, "reason": "UNKNOWN"}
    wrong_kind = oti.control.post("/seed", json={"projects": {"toulouse": {"passes": [
        {"number": ACTIVE, "kind": "serial"}]}}})
    assert wrong_kind.status_code == 400 and "kind" in wrong_kind.json()["error"]


# ---------------------------------------------------------------- auth and project

def test_auth_refused_and_unknown_project(oti):
    for auth in [None, (AUTH[0], "wrong-key"), ("someone", AUTH[1])]:
        answer = httpx.get(f"{oti.url}/api/toulouse/v1/passes/{ACTIVE}", auth=auth)
        assert answer.status_code == 401 and "error" in answer.json()
        assert answer.headers["WWW-Authenticate"].startswith("Basic")
    garbled = httpx.get(f"{oti.url}/api/toulouse/v1/passes/{ACTIVE}", headers={"Authorization": "Basic %%%"})
    assert garbled.status_code == 401
    refused = httpx.post(f"{oti.url}/api/toulouse/v1/usages", json=usage(ACTIVE, reference="r1"),
                         auth=(AUTH[0], "wrong"))
    assert refused.status_code == 401 and usages_in_state(oti) == []
    unknown = httpx.get(f"{oti.url}/api/paris/v1/passes/{ACTIVE}", auth=AUTH)
    assert unknown.status_code == 404 and "paris" in unknown.json()["error"]
    assert httpx.get(f"{oti.url}/api/paris/v1/passes", auth=AUTH).status_code == 404


# ---------------------------------------------------------------- passes

def test_get_pass_both_kinds_and_unknown(oti):
    numeric_pass = oti.api.get(f"/passes/{ACTIVE}").json()
    assert numeric_pass == {"number": ACTIVE, "kind": "numeric", "state": "ACTIVE", "productRef": "PASSTOU",
                            "validFrom": None, "validUntil": None, "validityHours": None,
                            "includedServices": sorted([AUG, MSR, DUP]), "usages": []}
    assert oti.api.get(f"/passes/{SERIAL}").json()["kind"] == "serial"
    assert oti.api.get(f"/passes/{ONLY_AUG}").json()["includedServices"] == [AUG]
    missing = oti.api.get("/passes/TLSNOPE1")
    assert missing.status_code == 404 and missing.json()["reason"] == "UNKNOWN"


# ---------------------------------------------------------------- usages

@pytest.mark.parametrize("number, service, reason", [
    ("TLSNOPE1", AUG, "UNKNOWN"),
    (PASSES["CREATED"], AUG, "INACTIVE"),
    (PASSES["INACTIVE"], AUG, "INACTIVE"),
    (NOT_YET, AUG, "INACTIVE"),
    (PASSES["EXPIRED"], AUG, "EXPIRED"),
    (ENDED, AUG, "EXPIRED"),
    (PASSES["INVALID"], AUG, "INVALID"),
    (PASSES["BLOCKED"], AUG, "BLOCKED"),
    (ONLY_AUG, MSR, "SERVICE_NOT_INCLUDED"),
    (ACTIVE, "PCUMID031FS99999", "SERVICE_NOT_INCLUDED"),
])
def test_each_refusal_reason(oti, number, service, reason):
    answer = oti.api.post("/usages", json=usage(number, service, reference=f"r-{number}"))
    assert answer.status_code == 422
    assert answer.json() == {"accepted": False, "reason": reason}
    assert usages_in_state(oti) == []


def test_one_entry_per_service_already_checked_then_accepted_elsewhere(oti):
    first = oti.api.post("/usages", json=usage(SERIAL, AUG.lower(), reference="a1"))
    assert first.status_code == 201
    body = first.json()
    assert body["accepted"] is True and body["usageId"]
    assert [u["serviceId"] for u in body["pass"]["usages"]] == [AUG]
    again = oti.api.post("/usages", json=usage(SERIAL, AUG, reference="a2"))
    assert again.status_code == 422 and again.json() == {"accepted": False, "reason": "ALREADY_CHECKED"}
    elsewhere = oti.api.post("/usages", json=usage(SERIAL, MSR, reference="a3"))
    assert elsewhere.status_code == 201 and elsewhere.json()["usageId"] != body["usageId"]
    assert [u["serviceId"] for u in oti.api.get(f"/passes/{SERIAL}").json()["usages"]] == [AUG, MSR]


def test_idempotent_by_reference_same_answer_one_usage(oti):
    first = oti.api.post("/usages", json=usage(ACTIVE, reference="same-ref"))
    second = oti.api.post("/usages", json=usage(ACTIVE, reference="same-ref"))
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len(usages_in_state(oti, ACTIVE)) == 1
    # a refusal is replayed too, even once the pass would be accepted
    refused = oti.api.post("/usages", json=usage(ONLY_AUG, MSR, reference="ref-2"))
    oti.seed(projects={"toulouse": {"passes": [{"number": ONLY_AUG, "includedServices": [AUG, MSR]}]}})
    replay = oti.api.post("/usages", json=usage(ONLY_AUG, MSR, reference="ref-2"))
    assert refused.status_code == replay.status_code == 422 and refused.json() == replay.json()
    assert oti.api.post("/usages", json=usage(ONLY_AUG, MSR, reference="ref-3")).status_code == 201


def test_validity_starts_at_first_use(oti):
    before = oti.api.get(f"/passes/{FIRST_USE}").json()
    assert before["validityHours"] == 48 and before["validUntil"] is None
    body = oti.api.post("/usages", json=usage(FIRST_USE, reference="f1")).json()
    used_at = parse(body["pass"]["usages"][0]["usedAt"])
    assert parse(body["pass"]["validUntil"]) - used_at == dt.timedelta(hours=48)
    # a second usage elsewhere does not move it
    later = oti.api.post("/usages", json=usage(FIRST_USE, MSR, reference="f2")).json()
    assert later["pass"]["validUntil"] == body["pass"]["validUntil"]
    # an online usage is judged at now: the usedAt sent does not open a window in the past
    assert oti.api.get(f"/passes/{FIRST_USE}").json()["validUntil"] == body["pass"]["validUntil"]


def test_offline_usage_judged_at_used_at_and_recorded_late(oti):
    hour_ago = iso(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    # blocked when the scan reached us, but the visitor went in (offline) before the block: accepted
    oti.api.post("/usages", json=usage(ACTIVE, AUG, reference="o0")).raise_for_status()
    oti.control.post(f"/passes/toulouse/{ACTIVE}/block").raise_for_status()
    online = oti.api.post("/usages", json=usage(ACTIVE, MSR, reference="o1"))
    assert online.status_code == 422 and online.json()["reason"] == "BLOCKED"
    before_block = oti.api.post("/usages", json=usage(ACTIVE, MSR, reference="o2", offline=True, used_at=hour_ago))
    assert before_block.status_code == 201 and before_block.json()["accepted"] is True
    # refused at usedAt: recorded all the same, and the answer says so (200, recordedLate)
    late = oti.api.post("/usages", json=usage(PASSES["BLOCKED"], AUG, reference="o3", offline=True,
                                              used_at=hour_ago))
    assert late.status_code == 200
    body = late.json()
    assert body["accepted"] is False and body["recordedLate"] is True and body["reason"] == "BLOCKED"
    assert body["usageId"] and body["pass"]["usages"][0]["recordedLate"] is True
    twice = oti.api.post("/usages", json=usage(ACTIVE, AUG, reference="o4", offline=True, used_at=hour_ago))
    # ACTIVE at usedAt, but its free entry at this site is spent (by the online usage o0)
    assert twice.status_code == 200 and twice.json()["reason"] == "ALREADY_CHECKED"
    recorded = usages_in_state(oti)
    assert {u["reference"]: u["accepted"] for u in recorded} == {"o0": True, "o2": True, "o3": False,
                                                                 "o4": False}
    # an unknown pass cannot be recorded, offline or not
    unknown = oti.api.post("/usages", json=usage("TLSNOPE1", reference="o5", offline=True, used_at=hour_ago))
    assert unknown.status_code == 422 and unknown.json()["reason"] == "UNKNOWN"
    # the same reference replays the late answer, no second usage
    assert oti.api.post("/usages", json=usage(PASSES["BLOCKED"], AUG, reference="o3", offline=True,
                                              used_at=hour_ago)).json() == body
    assert len(usages_in_state(oti)) == 4


def test_offline_usage_before_expiry_is_accepted(oti):
    oti.api.post("/usages", json=usage(FIRST_USE, AUG, reference="e0")).raise_for_status()
    minute_ago = iso(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    expired = oti.control.post(f"/passes/toulouse/{FIRST_USE}/expire").json()
    assert expired["state"] == "EXPIRED"
    assert oti.api.post("/usages", json=usage(FIRST_USE, MSR, reference="e1")).json()["reason"] == "EXPIRED"
    offline = oti.api.post("/usages", json=usage(FIRST_USE, MSR, reference="e2", offline=True, used_at=minute_ago))
    assert offline.status_code == 201 and offline.json()["accepted"] is True


@pytest.mark.parametrize("field", ["number", "serviceId", "pspaceId", "usedAt", "offline", "reference"])
def test_usage_body_missing_field_named(oti, field):
    body = usage(ACTIVE, reference="v1")
    del body[field]
    answer = oti.api.post("/usages", json=body)
    assert answer.status_code == 400 and answer.json()["field"] == field and field in answer.json()["error"]


@pytest.mark.parametrize("field, value", [("number", 4970100000000), ("offline", "yes"), ("usedAt", "yesterday"),
                                          ("usedAt", "2026-11-23T10:00:00"), ("reference", ""),
                                          ("serviceId", None), ("pspaceId", "PROVIDER#ELSEWHERE")])
def test_usage_body_ill_typed_field_named(oti, field, value):
    answer = oti.api.post("/usages", json={**usage(ACTIVE, reference="v2"), field: value})
    assert answer.status_code == 400 and answer.json()["field"] == field
    assert usages_in_state(oti) == []


def test_usage_body_not_json_and_offline_in_the_future(oti):
    assert oti.api.post("/usages", content=b"{nope", headers={"content-type": "application/json"}).status_code == 400
    assert oti.api.post("/usages", json=[1]).status_code == 400
    future = iso(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    answer = oti.api.post("/usages", json=usage(ACTIVE, reference="v3", offline=True, used_at=future))
    assert answer.status_code == 400 and answer.json()["field"] == "usedAt"


# ---------------------------------------------------------------- whitelist

def test_whitelist_paging_and_changed_since_after_a_block(oti):
    everything = {p["number"] for p in oti.state()["data"]["projects"]["toulouse"]["passes"].values()}
    seen, cursor, pages = [], None, []
    while True:
        params = {"limit": 4} | ({"changedSince": cursor} if cursor else {})
        page = oti.api.get("/passes", params=params).json()
        pages.append(len(page["passes"]))
        seen += [p["number"] for p in page["passes"]]
        cursor = page["nextCursor"]
        if not page["passes"]:
            break
    assert pages == [4, 4, 3, 0] and len(seen) == len(set(seen)) == len(everything) == 11
    assert set(seen) == everything
    # nothing changed: nothing comes back, the cursor stays usable
    assert oti.api.get("/passes", params={"changedSince": cursor}).json()["passes"] == []
    oti.control.post(f"/passes/toulouse/{SERIAL}/block").raise_for_status()
    changed = oti.api.get("/passes", params={"changedSince": cursor}).json()
    assert [(p["number"], p["state"]) for p in changed["passes"]] == [(SERIAL, "BLOCKED")]
    cursor = changed["nextCursor"]
    # a usage and a seed's changes come back too (the seed makes SERIAL ACTIVE again); what a seed
    # leaves as it was does not
    oti.api.post("/usages", json=usage(ACTIVE, reference="w1")).raise_for_status()
    oti.seed(**project_seed())
    oti.seed(projects={"toulouse": {"passes": [{"number": ENDED, "state": "INVALID"}]}})
    changed = oti.api.get("/passes", params={"changedSince": cursor}).json()
    assert [(p["number"], p["state"]) for p in changed["passes"]] == [(ACTIVE, "ACTIVE"), (SERIAL, "ACTIVE"),
                                                                      (ENDED, "INVALID")]
    assert changed["passes"][0]["usages"][0]["serviceId"] == AUG


@pytest.mark.parametrize("params", [{"limit": 1001}, {"limit": 0}, {"limit": "ten"}, {"changedSince": "garbage!"}])
def test_whitelist_bad_parameters(oti, params):
    answer = oti.api.get("/passes", params=params)
    assert answer.status_code == 400 and answer.json()["field"] == next(iter(params))


def test_whitelist_full_page_within_limit(oti):
    page = oti.api.get("/passes", params={"limit": 1000}).json()
    assert len(page["passes"]) == 11


# ---------------------------------------------------------------- control

def test_seed_merges_idempotently_and_refuses_bad_payloads(oti):
    before = oti.state()["data"]["projects"]["toulouse"]
    oti.seed(**project_seed())
    assert oti.state()["data"]["projects"]["toulouse"] == before
    # merge: a second project and one more pass, the rest untouched
    oti.seed(projects={"toulouse": {"passes": [{"number": "TLSNEW1"}]}, "paris": {"username": "p", "password": "k"}})
    data = oti.state()["data"]["projects"]
    assert set(data) == {"toulouse", "paris"} and len(data["toulouse"]["passes"]) == 12
    assert data["toulouse"]["username"] == AUTH[0]
    for bad in [{"projects": {"toulouse": {"passes": [{"number": "TLSX1", "state": "ASLEEP"}]}}},
                {"projects": {"toulouse": {"passes": [{"number": 12}]}}},
                {"projects": {"toulouse": {"passes": [{"number": "TLSX2", "validUntil": "soon"}]}}},
                {"projects": []}, {"planets": {}}]:
        answer = oti.control.post("/seed", json=bad)
        assert answer.status_code == 400, bad
    assert len(oti.state()["data"]["projects"]["toulouse"]["passes"]) == 12


def test_block_expire_and_state_endpoints(oti):
    blocked = oti.control.post(f"/passes/toulouse/{ACTIVE}/block")
    assert blocked.status_code == 200 and blocked.json()["state"] == "BLOCKED"
    expired = oti.control.post(f"/passes/toulouse/{SERIAL}/expire").json()
    assert expired["state"] == "EXPIRED" and expired["validUntil"] is not None
    assert oti.control.post("/passes/toulouse/TLSNOPE1/block").status_code == 404
    assert oti.control.post("/passes/paris/TLSNOPE1/block").status_code == 404
    assert oti.control.post(f"/passes/toulouse/{ACTIVE}/explode").status_code == 404
    oti.api.post("/usages", json=usage(FIRST_USE, reference="s1")).raise_for_status()
    project = oti.state()["data"]["projects"]["toulouse"]
    assert project["passes"][ACTIVE]["state"] == "BLOCKED"
    assert [h["state"] for h in project["passes"][ACTIVE]["history"]] == ["ACTIVE", "BLOCKED"]
    assert [(u["number"], u["reference"]) for u in project["usages"]] == [(FIRST_USE, "s1")]
    assert project["services"][AUG]["pspaceId"] == f"PROVIDER#{AUG}"
    oti.reset()
    assert oti.state()["data"] == {"projects": {}}


def test_state_file_keeps_passes_and_usages(sandbox, tmp_path):
    path = str(tmp_path / "otipass.json")
    first = sandbox("otipass", state_file=path)
    first.seed(**project_seed())
    httpx.post(first.url + "/api/toulouse/v1/usages", json=usage(ACTIVE, reference="k1"), auth=AUTH)
    first.stop()
    second = sandbox("otipass", state_file=path)
    replay = httpx.post(second.url + "/api/toulouse/v1/usages", json=usage(ACTIVE, reference="k1"), auth=AUTH)
    assert replay.status_code == 201
    assert len(second.state()["data"]["projects"]["toulouse"]["usages"]) == 1


# ---------------------------------------------------------------- faults

def test_rate_limited_then_idempotent_retry(oti):
    oti.faults(rate_limit={"count": 1, "retry_after": 2})
    limited = oti.api.post("/usages", json=usage(ACTIVE, reference="f-429"))
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    retried = oti.api.post("/usages", json=usage(ACTIVE, reference="f-429"))
    assert retried.status_code == 201
    assert [r["fault"] for r in oti.requests("/api/toulouse/v1/usages")] == ["429", None]
    assert len(usages_in_state(oti)) == 1


def test_down_answers_503_and_records_nothing(oti):
    oti.faults(down=True, retry_after=5)
    for answer in [oti.api.get(f"/passes/{ACTIVE}"), oti.api.post("/usages", json=usage(ACTIVE, reference="d1")),
                   oti.api.get("/passes")]:
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert usages_in_state(oti) == []
    oti.clear_faults()
    assert oti.api.post("/usages", json=usage(ACTIVE, reference="d1")).status_code == 201


def test_partial_fault_fails_chosen_passes_of_a_post_sync_batch(oti):
    oti.faults(partial={"ids": [SERIAL]})
    hour_ago = iso(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    batch = [usage(n, reference=f"p-{n}", offline=True, used_at=hour_ago) for n in (ACTIVE, SERIAL, FIRST_USE)]
    statuses = [oti.api.post("/usages", json=b).status_code for b in batch]
    assert statuses == [201, 503, 201]
    assert {u["number"] for u in usages_in_state(oti)} == {ACTIVE, FIRST_USE}
    oti.clear_faults()
    assert oti.api.post("/usages", json=batch[1]).status_code == 201
    assert len(usages_in_state(oti)) == 3


def test_dropped_connection(oti):
    oti.faults(drop_next=1)
    with pytest.raises(httpx.RemoteProtocolError):
        oti.api.get(f"/passes/{ACTIVE}")
    assert oti.api.get(f"/passes/{ACTIVE}").status_code == 200


# ---------------------------------------------------------------- demo

def test_demo_seed_every_state_both_kinds_deterministic(sandbox):
    demo = sandbox("otipass", demo=True)
    api = httpx.Client(base_url=demo.url + "/api/demo/v1", auth=("demo", "otipass-demo-key"))
    passes = api.get("/passes", params={"limit": 1000}).json()["passes"]
    assert len(passes) == 300
    assert {p["state"] for p in passes} == {"CREATED", "INACTIVE", "ACTIVE", "EXPIRED", "INVALID", "BLOCKED"}
    assert {p["kind"] for p in passes} == {"numeric", "serial"}
    assert all(luhn_valid(p["number"]) for p in passes if p["kind"] == "numeric")
    services = demo.state()["data"]["projects"]["demo"]["services"]
    assert services == {sid: {"pspaceId": f"PROVIDER#{sid}", "name": services[sid]["name"]} for sid in (AUG, MSR, DUP)}
    today = dt.datetime.now(dt.UTC).date()
    used_once = [p for p in passes if p["state"] == "ACTIVE" and len(p["usages"]) == 1]
    expiring = [p for p in used_once if parse(p["validUntil"]).date() == today]
    fresh = [p for p in passes if p["state"] == "ACTIVE" and not p["usages"] and p["validUntil"] is None]
    assert used_once and expiring and fresh
    # a fresh pass is accepted at a demo service
    body = usage(fresh[0]["number"], DUP, reference="demo-1")
    assert api.post("/usages", json=body).status_code == 201
    assert demo_seed(today) == demo_seed(today)
    demo.reset()
    assert len(demo.state()["data"]["projects"]["demo"]["usages"]) == len(
        [u for p in passes for u in p["usages"]])
    api.close()


def test_demo_seed_through_the_seed_endpoint(sandbox):
    plain = sandbox("otipass")
    assert plain.state()["data"] == {"projects": {}}
    plain.seed(demo=True)
    assert len(plain.state()["data"]["projects"]["demo"]["passes"]) == 300


def test_demo_by_environment_for_the_sandbox_command(sandbox, monkeypatch):
    # `passgate sandbox otipass` passes only --state-file: the demo project comes from the environment
    monkeypatch.setenv("PASSGATE_OTIPASS_DEMO", "1")
    demo = sandbox("otipass")
    passes = demo.state()["data"]["projects"]["demo"]["passes"]
    # the numbers docs/sandboxes.md names, in the states it gives
    assert {n: passes[n]["state"] for n in ("8250001204539", "TLSKY00017", "8250003313759", "TLSBL00005",
                                            "8250000441165", "8250000035629", "TLSLC00047", "8250000112386")} == {
        "8250001204539": "ACTIVE", "TLSKY00017": "ACTIVE", "8250003313759": "BLOCKED", "TLSBL00005": "CREATED",
        "8250000441165": "EXPIRED", "8250000035629": "INACTIVE", "TLSLC00047": "INVALID",
        "8250000112386": "ACTIVE"}
    assert len(passes["8250000112386"]["usages"]) == 1 and not passes["8250001204539"]["usages"]
    assert passes["8250000678394"]["includedServices"] == sorted([AUG, MSR])


def test_offline_first_use_starts_validity_at_used_at(oti):
    two_hours_ago = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
    body = oti.api.post("/usages", json=usage(FIRST_USE, AUG, reference="fo1", offline=True,
                                              used_at=iso(two_hours_ago + dt.timedelta(hours=1)))).json()
    assert parse(body["pass"]["validUntil"]) == two_hours_ago + dt.timedelta(hours=49)
    # an offline usage made earlier still, uploaded later, moves the start back
    earlier = oti.api.post("/usages", json=usage(FIRST_USE, MSR, reference="fo2", offline=True,
                                                 used_at=iso(two_hours_ago))).json()
    assert earlier["accepted"] is True
    assert parse(earlier["pass"]["validUntil"]) == two_hours_ago + dt.timedelta(hours=48)
