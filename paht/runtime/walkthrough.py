"""Drive one report through the whole procedure over HTTP, as the demo people would (`paht walkthrough`)."""
from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from typing import Callable

import httpx

DEMO_PASSWORD = "paht-demo"

REPORT = {
    "reporter": {"name": "Nguyễn Thị Hoa", "phone": "0912345678", "email": "hoa.nguyen@example.vn"},
    "title": "Ổ gà lớn trên đường Quang Trung",
    "description": "Ổ gà sâu khoảng 20 cm giữa làn xe, trước số nhà 120 Quang Trung, rất nguy hiểm vào ban đêm.",
    "topic_code": "",
    "location": {"lat": 17.4683, "lon": 106.6222},
    "address_text": "120 Quang Trung, Đồng Hới",
    "acknowledged": True,
}


@dataclass
class Walk:
    report_id: str = ""
    tracking_code: str = ""
    steps: list[tuple[str, float]] = field(default_factory=list)  # (step, seconds since submission)
    public: dict = field(default_factory=dict)
    reporter_phone: str = ""  # the phone the walk proved and reported with (its own, at random)


class Person:
    def __init__(self, http: httpx.Client, username: str | None, password: str):
        self.http = http
        self.headers = {}
        if username:
            r = http.post("/auth/token", data={"username": username, "password": password})
            r.raise_for_status()
            self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def post(self, path: str, body: dict) -> dict:
        r = self.http.post(path, json=body, headers=self.headers)
        if r.status_code >= 400:
            raise RuntimeError(f"POST {path} -> {r.status_code}: {r.text[:400]}")
        return r.json()

    def wait(self, path: str, ok: Callable[[dict], bool] = lambda body: True, timeout: float = 30.0, poll: float = 0.02) -> dict:
        end = time.monotonic() + timeout
        while True:
            r = self.http.get(path, headers=self.headers)
            if r.status_code == 200 and ok(r.json()):
                return r.json()
            if time.monotonic() > end:
                raise TimeoutError(f"GET {path} did not become ready: {r.status_code} {r.text[:300]}")
            time.sleep(poll)


def reporter_sign_in(http: httpx.Client, phone: str, session: str = "token") -> dict[str, str]:
    """Prove a phone as a citizen would: ask for a code, read it from the development SMS outbox (the embedded run's
    stand-in for the phone), verify it. Return the app session's Authorization header ("token"), or {} for the
    site's cookie ("cookie": the client's cookie jar then holds it)."""
    challenge = http.post("/api/intake/v1/otp", json={"phone": phone})
    if challenge.status_code != 202:
        raise RuntimeError(f"asking for a code -> {challenge.status_code}: {challenge.text[:300]}")
    sent = http.get("/api/intake/v1/dev/sms", params={"phone": phone})
    if sent.status_code != 200:
        raise RuntimeError("no development SMS outbox here (production?): the walkthrough needs the embedded run's demo codes")
    body = sent.json()
    items = body.get("items", []) if isinstance(body, dict) else body
    # the newest one-time code: the reporter's notices go to the same phone (and may arrive in between)
    newest = next(m for m in items if m.get("purpose", "otp") == "otp")
    code = re.search(r"\b(\d{6})\b", newest["text"]).group(1)
    verified = http.post("/api/intake/v1/otp/verify", json={"challenge_id": challenge.json()["challenge_id"], "phone": phone, "code": code,
                                                            "session": session})
    if verified.status_code != 200:
        raise RuntimeError(f"verifying the code -> {verified.status_code}: {verified.text[:300]}")
    return {"Authorization": f"Bearer {verified.json()['token']}"} if session == "token" else {}


def first_topic(http: httpx.Client) -> str:
    r = http.get("/api/dispatch/v1/topics")
    r.raise_for_status()
    items = r.json()["items"]
    for t in items:  # a transport topic (field h), which the Department of Transport is competent for
        if "h" in (t.get("fields") or []):
            return t["code"]
    for t in items:
        if "giao thông" in t["name"].lower():
            return t["code"]
    return items[0]["code"]


def walk(base_url: str, password: str = DEMO_PASSWORD, on_step: Callable[[str, Walk], None] | None = None, people: dict | None = None, http: httpx.Client | None = None) -> Walk:
    """Submit → accept (1) → dispatch (2) → unit (3) → staff (4) → draft (6) → approve (7) → publish (8)."""
    http = http or httpx.Client(base_url=base_url, timeout=15)
    people = people or {}

    def person(name):
        if name not in people:
            people[name] = Person(http, name, password)
        return people[name]

    citizen, ioc = Person(http, None, password), person("ioc")
    phone = "09" + "".join(random.choice("0123456789") for _ in range(8))  # a phone of its own: one code per phone per minute
    citizen.headers = reporter_sign_in(http, phone)
    coordinator, leader, staff = person("sogtvt"), person("truongphong"), person("canbo")
    w = Walk(reporter_phone=phone)
    body = dict(REPORT, reporter={**REPORT["reporter"], "phone": phone}, topic_code=first_topic(http))
    t0 = time.monotonic()

    def step(name: str):
        w.steps.append((name, time.monotonic() - t0))
        if on_step:
            on_step(name, w)

    created = citizen.post("/api/intake/v1/reports", body)
    w.report_id, w.tracking_code = created["id"], created["tracking_code"]
    rid = w.report_id
    step("submitted")
    ioc.post(f"/api/intake/v1/reports/{rid}/accept", {"topic_code": body["topic_code"]})
    step("accepted")
    ioc.wait(f"/api/dispatch/v1/reports/{rid}")
    ioc.post(f"/api/dispatch/v1/reports/{rid}/dispatch", {"agency_id": "so-gtvt"})
    step("dispatched")
    coordinator.wait(f"/api/handling/v1/cases/{rid}", lambda c: c["status"] == "awaiting_agency")
    coordinator.post(f"/api/handling/v1/cases/{rid}/assign-unit", {"unit_id": "so-gtvt-kcht"})
    step("unit_assigned")
    leader.post(f"/api/handling/v1/cases/{rid}/assign-staff", {"staff_subject": "canbo"})
    step("staff_assigned")
    staff.post(f"/api/handling/v1/cases/{rid}/draft", {"answer_text": "Đơn vị đã vá ổ gà trước số nhà 120 Quang Trung trong ngày; mặt đường đã thông thoáng."})
    step("drafted")
    leader.post(f"/api/handling/v1/cases/{rid}/approve", {})
    step("approved")
    ioc.wait(f"/api/publication/v1/reports/{rid}", lambda r: r["status"] == "approved")
    ioc.post(f"/api/publication/v1/reports/{rid}/publish", {})
    step("published")
    w.public = citizen.wait(f"/api/publication/v1/reports/{rid}", lambda r: r["status"] == "published" and r.get("answer"))
    step("visible")
    return w
