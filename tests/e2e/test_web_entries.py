"""Correcting the record on its page: correct, stop and delete entries (with a reason), changes
made meanwhile by others merged, real conflicts kept and re-applied with one click, and a
confirmation before a patient is deleted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from myositis_cds.services.ports import StoredPatient
from tests.e2e.web_support import Web, hidden_fields, make_web, page_sign_in


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    web = make_web(tmp_path)
    web.add_user("alice")
    web.add_user("bob")
    yield web
    web.close()


@pytest.fixture
def alice(web: Web) -> Iterator[TestClient]:
    with web.client() as client:
        page_sign_in(client, "alice")
        yield client


@pytest.fixture
def stored(web: Web) -> StoredPatient:
    return web.store("refractory-3-months")


def _record(client: TestClient, patient: StoredPatient) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/api/v1/patients/{patient.id}").json()
    return body


def _open(client: TestClient, path: str) -> tuple[str, dict[str, str]]:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return page.text, hidden_fields(page.text)


def _post(client: TestClient, path: str, hidden: dict[str, str], **fields: str) -> Any:
    return client.post(path, data={**hidden, **fields}, follow_redirects=False)


def test_record_page_lists_every_entry_in_words_with_its_actions(alice: TestClient,
                                                                 stored: StoredPatient) -> None:
    html = alice.get(f"/patients/{stored.id}/record").text
    record = stored.record
    for key in ("assessments", "labs", "treatments", "findings", "antibodies"):
        entries = record.get(key)
        assert isinstance(entries, list)
        for index in range(len(entries)):
            assert f'href="/patients/{stored.id}/entries/{key}/{index}"' in html, (key, index)
            assert f'href="/patients/{stored.id}/entries/{key}/{index}/delete"' in html
    assert "gottron_papules" not in html  # codes are shown as words
    assert "Gottron&#39;s papules" in html
    treatments: list[dict[str, Any]] = record["treatments"]  # type: ignore[assignment]
    ongoing = [t for t in treatments if not t.get("stop")]
    assert html.count('class="inline stop"') == len(ongoing)


def test_correct_a_lab(web: Web, alice: TestClient, stored: StoredPatient) -> None:
    path = f"/patients/{stored.id}/entries/labs/0"
    html, hidden = _open(alice, path)
    lab = _record(alice, stored)["record"]["labs"][0]
    assert f'name="value" value="{lab["value"]}"' in html
    values = {"test": lab["test"], "value": "321", "unit": lab["unit"], "uln": str(lab["uln"]),
              "date": lab["date"]}
    bad = _post(alice, path, hidden, **{**values, "value": "-1"})
    assert bad.status_code == 422
    assert re.search(r'id="e-value">got -1; expected greater than or equal to 0', bad.text)
    done = _post(alice, path, hidden, **values)
    assert done.status_code == 303
    assert done.headers["location"] == f"/patients/{stored.id}/record?done=corrected&what=labs"
    assert "The lab result was corrected." in alice.get(done.headers["location"]).text
    after = _record(alice, stored)
    assert after["record"]["labs"][0] == {**lab, "value": 321}
    assert after["version"] == stored.version + 1
    assert [e.detail for e in web.audit() if e.action == "patient.update"][-1].endswith(
        "corrected a lab result")


def test_stop_a_treatment_from_the_record_page(alice: TestClient, stored: StoredPatient) -> None:
    html = alice.get(f"/patients/{stored.id}/record").text
    action = re.search(r'action="(/patients/\d+/entries/treatments/(\d+)/stop)"', html)
    assert action is not None
    index = int(action.group(2))
    hidden = hidden_fields(html, action.group(1))
    before = _record(alice, stored)["record"]["treatments"][index]
    done = _post(alice, action.group(1), hidden, stop="2026-11-01")
    assert done.status_code == 303, done.text
    assert "done=stopped" in done.headers["location"]
    assert _record(alice, stored)["record"]["treatments"][index] == {**before, "stop": "2026-11-01"}
    early = _post(alice, action.group(1), hidden_fields(
        alice.get(f"/patients/{stored.id}/entries/treatments/{index}/stop").text),
        stop="2000-01-01")
    assert early.status_code == 422
    assert re.search(r'id="e-stop">got &#39;2000-01-01&#39;; expected a date on or after', early.text)


def test_delete_an_entry_needs_a_reason_and_is_audited(web: Web, alice: TestClient,
                                                       stored: StoredPatient) -> None:
    path = f"/patients/{stored.id}/entries/findings/0/delete"
    html, hidden = _open(alice, path)
    assert "Why is it deleted?" in html
    finding = _record(alice, stored)["record"]["findings"][0]
    refused = _post(alice, path, hidden, reason="")
    assert refused.status_code == 422
    assert len(_record(alice, stored)["record"]["findings"]) == len(stored.record["findings"])  # type: ignore[arg-type]
    before = len(web.audit())
    done = _post(alice, path, hidden, reason="entered_in_error")
    assert done.status_code == 303
    events = web.audit()[before:]  # one event for the deletion, no read besides
    assert [(e.actor, e.action) for e in events] == [("alice", "patient.entry_delete")]
    assert events[0].detail.endswith("deleted a finding (reason: entered in error)")
    assert finding not in _record(alice, stored)["record"]["findings"]
    again = _post(alice, path, hidden, reason="entered_in_error")  # e.g. a second tab
    assert again.status_code == 303
    assert "already been deleted" in alice.get(again.headers["location"]).text


def test_a_real_conflict_keeps_the_input_and_re_applies_with_one_click(
        web: Web, alice: TestClient, stored: StoredPatient) -> None:
    path = f"/patients/{stored.id}/entries/labs/1"
    _, mine = _open(alice, path)
    lab = _record(alice, stored)["record"]["labs"][1]
    with web.client() as bob:
        page_sign_in(bob, "bob")
        _, theirs = _open(bob, path)
        assert _post(bob, path, theirs, **{**_form(lab), "value": "999"}).status_code == 303
    conflict = _post(alice, path, mine, **{**_form(lab), "value": "555"})
    assert conflict.status_code == 409
    assert "since you opened this form, bob changed it" in conflict.text
    assert 'name="value" value="555"' in conflict.text  # the input is kept
    assert re.search(r"<dt>Value</dt><dd>999</dd>", conflict.text)  # what is stored now
    assert "Apply my change to the current version" in conflict.text
    assert _record(alice, stored)["record"]["labs"][1]["value"] == 999
    again = _post(alice, path, hidden_fields(conflict.text), **{**_form(lab), "value": "555"})
    assert again.status_code == 303
    assert _record(alice, stored)["record"]["labs"][1]["value"] == 555


def _form(lab: dict[str, Any]) -> dict[str, str]:
    return {"test": lab["test"], "value": str(lab["value"]), "unit": lab["unit"],
            "uln": str(lab.get("uln", "")), "date": lab["date"]}


def test_the_same_user_in_a_second_tab_is_not_someone_else(alice: TestClient,
                                                            stored: StoredPatient) -> None:
    path = f"/patients/{stored.id}/entries/labs/0"
    _, first_tab = _open(alice, path)
    _, second_tab = _open(alice, path)
    lab = _record(alice, stored)["record"]["labs"][0]
    assert _post(alice, path, second_tab, **{**_form(lab), "value": "10"}).status_code == 303
    conflict = _post(alice, path, first_tab, **{**_form(lab), "value": "20"})
    assert conflict.status_code == 409
    assert "you (in another tab or window) changed it" in conflict.text
    assert "someone else" not in conflict.text
    # Disjoint changes from two tabs merge without a word.
    _, add_tab = _open(alice, f"/patients/{stored.id}/add/lab")
    _, edit_tab = _open(alice, f"/patients/{stored.id}/edit")
    details = {"id": stored.patient_key, "sex": "female", "birth_date": "", "diagnosis_name": "",
               "diagnosis_date": "", "diagnosis_symptom_onset_date": ""}
    record = _record(alice, stored)["record"]
    details.update(birth_date=record["birth_date"], diagnosis_name=record["diagnosis"]["name"],
                   diagnosis_date=record["diagnosis"]["date"],
                   diagnosis_symptom_onset_date=record["diagnosis"].get("symptom_onset_date", ""))
    assert _post(alice, f"/patients/{stored.id}/edit", edit_tab,
                 **{**details, "sex": "other"}).status_code == 303
    assert _post(alice, f"/patients/{stored.id}/add/lab", add_tab, test="ALT", value="40",
                 unit="U/L", date="2026-03-02").status_code == 303
    record = _record(alice, stored)["record"]
    assert record["sex"] == "other"
    assert record["labs"][-1]["test"] == "ALT"


def test_an_entry_deleted_meanwhile_can_be_saved_as_new(web: Web, alice: TestClient,
                                                        stored: StoredPatient) -> None:
    path = f"/patients/{stored.id}/entries/labs/0"
    _, mine = _open(alice, path)
    lab = _record(alice, stored)["record"]["labs"][0]
    with web.client() as bob:
        page_sign_in(bob, "bob")
        _, theirs = _open(bob, path + "/delete")
        assert _post(bob, path + "/delete", theirs, reason="duplicate").status_code == 303
    conflict = _post(alice, path, mine, **{**_form(lab), "value": "77"})
    assert conflict.status_code == 409
    assert "bob deleted it" in conflict.text
    assert f'action="/patients/{stored.id}/add/lab"' in conflict.text
    added = _post(alice, f"/patients/{stored.id}/add/lab", hidden_fields(conflict.text),
                  **{**_form(lab), "value": "77"})
    assert added.status_code == 303
    assert {**lab, "value": 77} in _record(alice, stored)["record"]["labs"]


def test_deleting_a_patient_needs_a_confirmation(web: Web, alice: TestClient,
                                                 stored: StoredPatient) -> None:
    patient_page = alice.get(f"/patients/{stored.id}").text
    assert f'action="/patients/{stored.id}/delete"' not in patient_page  # no one-click delete
    html, hidden = _open(alice, f"/patients/{stored.id}/delete")
    assert f"Type the patient's identifier, <strong>{stored.patient_key}</strong>" in html
    for fields in ({}, {"reason": "duplicate"}, {"reason": "duplicate", "confirm": "wrong"},
                   {"confirm": stored.patient_key}):
        refused = _post(alice, f"/patients/{stored.id}/delete", hidden, **fields)
        assert refused.status_code == 422, fields
        assert "Not deleted" in refused.text
    assert alice.get(f"/api/v1/patients/{stored.id}").status_code == 200
    done = _post(alice, f"/patients/{stored.id}/delete", hidden, reason="duplicate",
                 confirm=stored.patient_key)
    assert (done.status_code, done.headers["location"]) == (303, "/patients")
    assert alice.get(f"/api/v1/patients/{stored.id}").status_code == 404
    deleted = [e for e in web.audit() if e.action == "patient.delete"]
    assert deleted[-1].detail.endswith("reason: a duplicate")
