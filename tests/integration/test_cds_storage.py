"""The CDS Hooks replay guard and card ledger on SQLite and PostgreSQL (migration 0003)."""

from __future__ import annotations

import threading

from myositis_cds.adapters.storage import Database
from myositis_cds.adapters.storage.cds_hooks import IssuedCard, SqlCardLedger, SqlReplayStore

NOW = 1_795_000_000.0


def test_a_jti_is_accepted_once_until_it_expires(database: Database) -> None:
    guard = SqlReplayStore(database.engine)
    assert guard.remember("ehr", "j1", expires=NOW + 60, now=NOW) is True
    assert guard.remember("ehr", "j1", expires=NOW + 60, now=NOW + 30) is False
    assert guard.remember("other-ehr", "j1", expires=NOW + 60, now=NOW + 30) is True
    assert guard.remember("ehr", "j1", expires=NOW + 200, now=NOW + 61) is True  # expired: purged


def test_of_concurrent_uses_of_one_token_exactly_one_wins(database: Database) -> None:
    guard = SqlReplayStore(database.engine)
    results: list[bool] = []
    start = threading.Barrier(4)

    def use() -> None:
        start.wait()
        results.append(guard.remember("ehr", "race", expires=NOW + 60, now=NOW))

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]


def test_the_card_ledger_keeps_cards_for_the_retention_period(database: Database) -> None:
    ledger = SqlCardLedger(database.engine, retention_days=1)
    card = IssuedCard(iss="ehr", patient_key="p1", rule="ALERT-SCREEN-AGE40")
    ledger.add({"u1": card, "u2": IssuedCard(iss="ehr", patient_key="p1", rule="PLAN")}, now=NOW)
    assert ledger.get("u1") == card
    assert ledger.get("nope") is None
    ledger.add({}, now=NOW + 86_401)
    assert ledger.get("u1") is None
