"""`paht sla due STEP START ...` run as a real command: its last line is the deadline, bad arguments exit 2."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

PAHT = Path(sys.executable).with_name("paht")
DUE_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00$")


def paht(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(PAHT), "sla", "due", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args, expected", [
    (["handling", "2026-03-03T09:15:00+07:00"], "2026-03-10T09:15:00+07:00"),
    (["agency", "2026-03-02T04:00:00Z"], "2026-03-02T14:00:00+07:00"),                 # 11:00 in Vietnam, over lunch
    (["dispatch", "2026-03-02T22:00:00+07:00"], "2026-03-02T23:00:00+07:00"),          # 22:00:00 is day
    (["dispatch", "2026-03-02T22:00:01+07:00"], "2026-03-03T07:00:00+07:00"),
    (["dispatch", "2026-03-02T23:00:00+07:00", "--escalated"], "2026-03-03T07:30:00+07:00"),
    (["dispatch", "2026-03-03T02:00:00+07:00", "--urgent"], "2026-03-03T02:10:00+07:00"),
    (["approval", "2026-08-28T10:00:00+07:00"], "2026-09-03T10:00:00+07:00"),          # 31 Aug, 1-2 Sep off
    (["reporter-edit", "2026-02-13T10:00:00+07:00"], "2026-02-15T10:00:00+07:00"),
    (["agency", "2026-03-02T11:00:00.750000+07:00"], "2026-03-02T14:00:00+07:00"),     # printed to the second
])
def test_prints_the_deadline_on_its_last_line(args, expected):
    done = paht(*args)
    assert done.returncode == 0, done.stderr
    last = done.stdout.rstrip("\n").splitlines()[-1]
    assert last == expected and DUE_LINE.match(last)


def test_a_calendar_file_and_the_organisation_chain_apply(tmp_path):
    calendar = tmp_path / "calendar.yaml"
    calendar.write_text("days:\n  - {day: 2026-03-10, kind: off, name: Lễ hội, org_id: dong-hoi}\n"
                        "agency_limits: {so-xd: 3}\n"
                        "schedules:\n  ioc: [{weekdays: [mon, tue, wed, thu, fri], intervals: [[07:00, 11:30], [14:00, 17:30]]}]\n",
                        encoding="utf-8")
    start = "2026-03-03T09:15:00+07:00"
    assert paht("handling", start, "--calendar", str(calendar)).stdout.splitlines()[-1] == "2026-03-10T09:15:00+07:00"
    assert paht("handling", start, "--calendar", str(calendar), "--org", "phuong", "--org", "dong-hoi").stdout.splitlines()[-1] == \
        "2026-03-11T09:15:00+07:00"
    assert paht("handling", start, "--calendar", str(calendar), "--org", "so-xd").stdout.splitlines()[-1] == "2026-03-06T09:15:00+07:00"
    assert paht("agency", "2026-03-02T11:00:00+07:00", "--calendar", str(calendar), "--org", "ioc").stdout.splitlines()[-1] == \
        "2026-03-02T14:30:00+07:00"
    as_json = tmp_path / "calendar.json"
    as_json.write_text(json.dumps({"agency_limits": {"so-xd": 2}}), encoding="utf-8")
    assert paht("handling", start, "--calendar", str(as_json), "--org", "so-xd").stdout.splitlines()[-1] == "2026-03-05T09:15:00+07:00"


@pytest.mark.parametrize("args, words", [
    (["lunch", "2026-03-03T09:15:00+07:00"], "Unknown step 'lunch'"),
    (["handling", "2026-02-30T09:15:00+07:00"], "not an ISO 8601"),
    (["handling", "tomorrow"], "not an ISO 8601"),
    (["handling", "2026-03-03T09:15:00"], "no UTC offset"),
    (["handling", "2026-03-03"], "no UTC offset"),
    (["handling", "2026-03-03T09:15:00+07:00", "--urgent"], "urgent"),
    (["publish", "2026-03-03T09:15:00+07:00", "--escalated"], "Steering Committee"),
    (["handling", "1999-03-03T09:15:00+07:00"], "outside the years"),
    (["handling", "2026-03-03T09:15:00+07:00", "--calendar", "/nonexistent/calendar.yaml"], "Cannot read the calendar file"),
    (["handling"], "START"),  # argparse: missing argument
])
def test_bad_arguments_say_why_on_stderr_and_exit_2(args, words):
    done = paht(*args)
    assert done.returncode == 2
    assert words in done.stderr
    assert not DUE_LINE.search(done.stdout)


def test_an_invalid_calendar_file_exits_2_naming_the_entry(tmp_path):
    bad = tmp_path / "calendar.json"
    bad.write_text(json.dumps({"agency_limits": {"so-xd": 7}}), encoding="utf-8")
    done = paht("handling", "2026-03-03T09:15:00+07:00", "--calendar", str(bad))
    assert done.returncode == 2 and "so-xd" in done.stderr and "never looser" in done.stderr
    bad.write_text("{", encoding="utf-8")
    done = paht("handling", "2026-03-03T09:15:00+07:00", "--calendar", str(bad))
    assert done.returncode == 2 and "not valid JSON" in done.stderr
