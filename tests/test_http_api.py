"""The HTTP/JSON API against a real server on 127.0.0.1: same answers and errors as gRPC.

Every check compares with the gRPC API of the same process (the SDK), so the
two transports cannot drift apart: the same sizes, members, overlaps, and the
same status codes and messages for the same bad requests.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import cohortd
import httpx
import pytest
from cohortd.client import RemoteError
from support.data import now_ms, seed
from support.server import HttpServer, ServerProcess

DEFAULT = {"Authorization": "Bearer k-default"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("http")
    seed(tmp / "data")
    srv = HttpServer(tmp / "data", tmp)
    yield srv
    assert srv.terminate() == 0, srv.output


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, headers=DEFAULT, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def grpc_client(server):
    with cohortd.Client(server.address, api_key="k-default", project="default") as c:
        yield c


def _grpc_error(fn) -> RemoteError:
    with pytest.raises(RemoteError) as info:
        fn()
    return info.value


def _http_error(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    return resp.json()["error"]


def test_auth_errors_match_grpc(server):
    url = f"{server.url}/api/projects/default/cohorts"
    for key, status in ((None, 401), ("wrong", 401)):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        err = _http_error(httpx.get(url, headers=headers), status)
        with cohortd.Client(server.address, api_key=key, project="default", retries=0) as c:
            remote = _grpc_error(c.list_cohorts)
        assert err == {"code": remote.code.name, "message": remote.details}
    # a key on a project it does not list: PERMISSION_DENIED, same message, nothing of that project shown
    resp = httpx.get(f"{server.url}/api/projects/other/cohorts", headers=DEFAULT)
    err = _http_error(resp, 403)
    with cohortd.Client(server.address, api_key="k-default", project="other", retries=0) as c:
        remote = _grpc_error(c.list_cohorts)
    assert err == {"code": remote.code.name, "message": remote.details}
    assert "Secret other" not in resp.text
    listed = httpx.get(f"{server.url}/api/projects", headers=DEFAULT).json()
    assert listed == {"projects": ["default"]}


def test_parse_error_same_code_message_and_position_as_grpc(http, grpc_client):
    bad = 'did("Session Start") >= 3 in last 7d\n  and did("Signup Submitted") => 2'
    err = _http_error(http.post("/api/projects/default/lint", json={"definition": bad}), 400)
    remote = _grpc_error(lambda: grpc_client.lint(bad))
    assert (err["code"], err["message"]) == (remote.code.name, remote.details)
    assert (err["line"], err["column"]) == (remote.line, remote.column) == (2, 31)
    for path, body in (("/evaluate", {"definition": bad}), ("/explain", {"definition": bad})):
        assert _http_error(http.post(f"/api/projects/default{path}", json=body), 400) == err


def test_catalog_round_trip(http, grpc_client):
    base = "/api/projects/default/cohorts"
    created = http.post(
        base,
        json={"name": "Trial users", "definition": 'did("Signup Submitted") in last 30d', "note": "first"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["cohort"]["version"] == 1
    assert grpc_client.get_cohort("Trial users").definition == created.json()["cohort"]["definition"]
    dup = _http_error(http.post(base, json={"name": "Trial users", "definition": "did(any)"}), 409)
    remote = _grpc_error(lambda: grpc_client.create_cohort("Trial users", "did(any)"))
    assert (dup["code"], dup["message"]) == (remote.code.name, remote.details)
    upd = http.patch(
        f"{base}/Trial users", json={"definition": 'did("Signup Submitted") in last 14d', "note": "two weeks"}
    )
    assert upd.status_code == 200 and upd.json()["cohort"]["version"] == 2
    hist = http.get(f"{base}/Trial users/history").json()["versions"]
    assert [(v["version"], v["note"]) for v in hist] == [(1, "first"), (2, "two weeks")]
    assert [v.note for v in grpc_client.cohort_history("Trial users")] == ["first", "two weeks"]
    assert [v["author"] for v in hist] == ["dana", "dana"]  # the key's name, as over gRPC
    assert http.post(f"{base}/Trial users/archive").json()["archived"] is True
    names = [c["name"] for c in http.get(base).json()["cohorts"]]
    assert "Trial users" not in names
    assert "Trial users" in [c["name"] for c in http.get(base, params={"archived": "true"}).json()["cohorts"]]
    assert http.post(f"{base}/Trial users/unarchive").json()["archived"] is False
    assert grpc_client.get_cohort("Trial users").archived is False
    assert http.post(f"{base}/Trial users/archive").json()["archived"] is True
    missing = _http_error(http.get(f"{base}/nope"), 404)
    remote = _grpc_error(lambda: grpc_client.get_cohort("nope"))
    assert (missing["code"], missing["message"]) == (remote.code.name, remote.details)


def test_queries_agree_with_grpc(http, grpc_client):
    p = "/api/projects/default"
    for name in ("Active 7d", "Feature users"):
        ev = http.post(f"{p}/evaluate", json={"cohort": name}).json()
        assert ev["size"] == grpc_client.evaluate(name).size
        pages, offset = [], 0
        while True:
            page = http.get(f"{p}/cohorts/{name}/members", params={"offset": offset, "limit": 37}).json()
            pages.extend(page["members"])
            offset += 37
            if offset >= page["total"]:
                break
        assert len(pages) == len(set(pages)) and sorted(pages) == grpc_client.members(name)
    as_of = now_ms() - 2 * 86_400_000
    inline = 'did("Session Start") in last 30d'
    ev = http.post(f"{p}/evaluate", json={"definition": inline, "as_of": as_of}).json()
    assert ev["size"] == grpc_client.evaluate(definition=inline, as_of=as_of).size
    ov = http.get(f"{p}/overlap", params=[("cohort", "Active 7d"), ("cohort", "Feature users")]).json()
    remote = grpc_client.overlap(["Active 7d", "Feature users"])
    assert ov["sizes"] == remote.sizes and ov["intersections"] == remote.intersections
    assert [pytest.approx(row) for row in remote.jaccard] == ov["jaccard"]
    steps = http.post(f"{p}/explain", json={"cohort": "Active 7d"}).json()["steps"]
    assert [s["text"] for s in steps] == [s.text for s in grpc_client.explain("Active 7d")]
    assert http.get(f"{p}/users/u0006/cohorts").json()["cohorts"] == grpc_client.user_cohorts("u0006")


def test_size_series_points_are_exact_evaluations(http, grpc_client):
    pts = http.get("/api/projects/default/cohorts/Active 7d/sizes", params={"days": 5}).json()["points"]
    assert len(pts) == 6 and [p["time_ms"] for p in pts] == sorted(p["time_ms"] for p in pts)
    for pt in pts[:-1]:
        assert pt["time_ms"] % 86_400_000 == 0
        assert pt["size"] == grpc_client.evaluate("Active 7d", as_of=pt["time_ms"]).size
    assert _http_error(http.get("/api/projects/default/cohorts/nope/sizes"), 404)["code"] == "NOT_FOUND"


def test_session_cookie_and_csrf(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        assert (
            _http_error(c.post("/api/session", json={"api_key": "wrong"}), 401)["message"]
            == "unknown API key"
        )
        login = c.post("/api/session", json={"api_key": "k-default"})
        assert login.status_code == 200
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Secure" in cookie and "samesite=strict" in cookie.lower()
        sid = cookie.split(";")[0]
        token = login.json()["csrf_token"]
        assert login.json()["projects"] == ["default"]
        jar = {"Cookie": sid}
        assert c.get("/api/projects/default/cohorts", headers=jar).status_code == 200
        assert c.get("/api/projects/other/cohorts", headers=jar).status_code == 403
        body = {"definition": "did(any) in last 7d"}
        assert _http_error(c.post("/api/projects/default/evaluate", json=body, headers=jar), 403)[
            "message"
        ] == ("missing or wrong CSRF token")
        wrong = {**jar, "X-CSRF-Token": token[:-1] + "x"}
        assert c.post("/api/projects/default/evaluate", json=body, headers=wrong).status_code == 403
        cross = {**jar, "X-CSRF-Token": token, "Origin": "http://evil.example"}
        assert c.post("/api/projects/default/evaluate", json=body, headers=cross).status_code == 403
        ok = {**jar, "X-CSRF-Token": token, "Origin": server.url}
        assert c.post("/api/projects/default/evaluate", json=body, headers=ok).status_code == 200
        assert c.delete("/api/session", headers=ok).status_code == 204
        assert c.get("/api/projects/default/cohorts", headers=jar).status_code == 401


def test_watch_streams_entries_as_server_sent_events(server, http, grpc_client):
    http.post(
        "/api/projects/default/cohorts", json={"name": "Bought", "definition": 'did("Purchase") in last 1d'}
    )
    got: list[dict] = []
    opened = threading.Event()

    def listen() -> None:
        with httpx.stream(
            "GET",
            f"{server.url}/api/projects/default/watch",
            params={"cohort": "Bought"},
            headers=DEFAULT,
            timeout=30,
        ) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            kind = None
            for line in resp.iter_lines():
                if line.startswith(":"):
                    opened.set()
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "change":
                    got.append(json.loads(line[6:]))
                    return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert opened.wait(20)
    time.sleep(0.3)
    grpc_client.ingest([{"user_id": "buyer-1", "event_type": "Purchase", "time": now_ms()}])
    t.join(30)
    assert (
        got and got[0]["cohort"] == "Bought" and got[0]["entered"] == ["buyer-1"] and got[0]["exited"] == []
    )
    assert (
        _http_error(http.get("/api/projects/default/watch", params={"cohort": "nope"}), 404)["code"]
        == "NOT_FOUND"
    )


def test_bad_arguments_are_400_not_500(http):
    p = "/api/projects/default"
    assert _http_error(http.post(f"{p}/evaluate", json={}), 400)["code"] == "INVALID_ARGUMENT"
    assert _http_error(http.post(f"{p}/evaluate", json={"cohort": "Active 7d", "as_of": "yesterday"}), 400)
    assert _http_error(
        http.post(f"{p}/evaluate", content=b"{not json", headers={"content-type": "application/json"}), 400
    )
    assert _http_error(http.get(f"{p}/cohorts/Active 7d/members", params={"limit": 0}), 400)
    assert _http_error(
        http.get("/api/projects/no-such-project/cohorts", headers={"Authorization": "Bearer k-admin"}), 404
    )
    assert _http_error(
        http.get("/api/projects/bad name!/cohorts", headers={"Authorization": "Bearer k-admin"}), 400
    )


def test_openapi_document_and_no_cdn(server, http):
    doc = http.get("/openapi.json").json()
    assert (
        "/api/projects/{project}/cohorts" in doc["paths"] and "/api/projects/{project}/watch" in doc["paths"]
    )
    page = httpx.get(f"{server.url}/console/login").text
    assert "http://" not in page.replace(server.url, "") and "https://" not in page
    for asset in ("/static/console.js", "/static/console.css"):
        text = httpx.get(server.url + asset).text
        assert "http://" not in text and "https://" not in text
    assert httpx.get(f"{server.url}/docs").status_code == 404


def test_know_your_data_routes_agree_with_grpc_evaluations(http, grpc_client):
    p = "/api/projects/default"
    schema = http.get(f"{p}/schema").json()
    assert {e["name"] for e in schema["event_types"]} >= {"Session Start", "Signup Submitted"}
    assert "plan" in [u["name"] for u in schema["user_properties"]]
    split = http.post(f"{p}/breakdown", json={"cohort": "Active 7d", "by": "user.plan"}).json()
    assert split["size"] == grpc_client.evaluate("Active 7d").size
    for row in split["rows"]:
        inline = f'in_cohort("Active 7d") and user.plan == "{row["value"]}"'
        assert row["members"] == grpc_client.evaluate(definition=inline).size
    day = 86_400_000
    end = now_ms() // day * day
    pop = http.post(
        f"{p}/population", json={"cohort": "Active 7d", "start": end - 3 * day, "end": end}
    ).json()
    assert len(pop["points"]) == 4
    for k, pt in enumerate(pop["points"]):
        assert pt["size"] == grpc_client.evaluate("Active 7d", as_of=end - (3 - k) * day).size
    assert set(http.get(f"{p}/audit").json()) >= {"findings", "similar_pairs"}
    bad = _http_error(
        http.post(f"{p}/breakdown", json={"cohort": "Active 7d", "by": "user.plan", "pick": "x"}), 400
    )
    assert bad["code"] == "INVALID_ARGUMENT"


def test_audiences_and_personas_routes_agree_with_grpc(http, grpc_client):
    p = "/api/projects/default"
    dests = http.get(f"{p}/destinations").json()["destinations"]
    assert [d["name"] for d in dests] == [d.name for d in grpc_client.list_destinations()] == ["exports"]
    assert "secret" not in json.dumps(dests)
    listed = http.get(f"{p}/audiences").json()["audiences"]
    assert [(a["name"], a["cohort"]) for a in listed] == [("Active export", "Active 7d")]
    paused = http.post(f"{p}/audiences/Active export/pause").json()
    assert paused["status"] == "paused" == grpc_client.get_audience("Active export").status
    assert http.post(f"{p}/audiences/Active export/resume").json()["status"] != "paused"
    log = http.get(f"{p}/audiences/Active export/log").json()["attempts"]
    assert len(log) == len(grpc_client.audience_log("Active export"))
    assert _http_error(http.get(f"{p}/audiences/nope"), 404)["code"] == "NOT_FOUND"
    report = http.post(f"{p}/personas", json={"population": "all", "window": "30d", "k": 2, "seed": 1}).json()
    assert report["k"] == 2 and len(report["personas"]) == 2
    assert sum(pc["size"] for pc in report["personas"]) == report["clustered_users"]
    for pc in report["personas"]:
        if pc["rule"]:  # the rule's size is an evaluation of its definition
            assert pc["rule"]["size"] == grpc_client.evaluate(definition=pc["rule"]["definition"]).size


def test_analyses_routes_equal_the_grpc_answers(http, grpc_client):
    p = "/api/projects/default"
    day = 86_400_000
    now = now_ms()
    # fixed instants, so both transports answer the same question
    start, end, as_of = now - 56 * day, now - day, now
    ret = {"start_event": '"Signup Submitted"', "return_event": '"Session Start"', "start": start,
           "end": end, "period": "1w", "periods": 8, "as_of": as_of, "cohort": "Feature users",
           "baseline": "rest"}  # fmt: skip
    got = http.post(f"{p}/retention", json=ret).json()
    want = grpc_client.retention(
        ret["start_event"], ret["return_event"], start, end, period="1w", periods=8, as_of=as_of,
        cohort="Feature users", baseline="rest",
    ).to_json()  # fmt: skip
    assert got == want and got["baseline"] is not None
    bt = {"cohort": "Feature users", "outcome": 'did("Session Start") in last 7d', "horizon": "30d",
          "as_of": now - 30 * day}  # fmt: skip
    got = http.post(f"{p}/backtest", json=bt).json()
    want = grpc_client.backtest(
        "Feature users", outcome=bt["outcome"], horizon="30d", as_of=bt["as_of"]
    ).to_json()
    assert got == want and "lift" in got
    fun = {"steps": ['"Signup Submitted"', '"Feature Used"'], "start": start, "end": end, "as_of": as_of,
           "window": "7d", "split_property": "plan"}  # fmt: skip
    got = http.post(f"{p}/funnel", json=fun).json()
    want = grpc_client.funnel(
        fun["steps"], start, end, window="7d", as_of=as_of, split_property="plan"
    ).to_json()
    assert got == want and got["steps"][0]["users"] > 0
    jr = {"anchor": '"Signup Submitted"', "start": start, "end": end, "as_of": as_of, "depth": 2}
    got = http.post(f"{p}/journeys", json=jr).json()
    assert got == grpc_client.journeys(jr["anchor"], start, end, depth=2, as_of=as_of).to_json()
    bad = _http_error(http.post(f"{p}/funnel", json={**fun, "steps": ['"Signup Submitted" where =']}), 400)
    assert bad["code"] == "INVALID_ARGUMENT" and "line" in bad


def test_cli_serve_http_serves_the_console(tmp_path):
    """``cohortd serve --http`` (the CLI entry point) starts both servers and stops cleanly on SIGTERM."""
    seed(tmp_path / "data", users=20)
    cli_serve = [sys.executable, "-m", "cohortd.cli.main", "serve", "--data", str(tmp_path / "data")]
    srv = ServerProcess(None, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", command=cli_serve)
    try:
        url = srv.url
        assert url, "no console line"
        assert httpx.get(f"{url}/console/login").status_code == 200
        # no --auth-keys: every project is open, as on the gRPC side, but not to other sites' pages
        assert httpx.get(f"{url}/api/projects").json() == {"projects": ["default", "other"]}
        body = {"definition": "did(any)"}
        evaluate = f"{url}/api/projects/default/evaluate"
        assert httpx.post(evaluate, json=body, headers={"Origin": "http://evil.example"}).status_code == 403
        assert httpx.post(evaluate, json=body, headers={"Origin": url}).status_code == 200
    finally:
        assert srv.terminate() == 0
