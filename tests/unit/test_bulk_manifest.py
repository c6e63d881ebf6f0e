"""A Bulk Data export's manifest: the type of each file, and counting the lines not read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from myositis_cds.adapters.fhir.importing.manifest import count_lines, files_to_read, manifest_types


@pytest.mark.parametrize(("data", "lines"), [
    (b"", 0), (b"{}", 1), (b"{}\n", 1), (b"{}\n{}", 2), (b"\n{}\n\n\n  \n{}\n\t\n", 2),
    (b"{}\r\n{}\r\n", 2), (b"  \n", 0),
])
def test_lines_are_counted_as_an_engine_reads_them(tmp_path: Path, data: bytes, lines: int) -> None:
    path = tmp_path / "x.ndjson"
    path.write_bytes(data)
    assert count_lines(path) == lines


def test_lines_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from myositis_cds.adapters.fhir.importing import manifest  # noqa: PLC0415

    monkeypatch.setattr(manifest, "_CHUNK", 3)
    path = tmp_path / "x.ndjson"
    path.write_bytes(b'{"a":1}\n\n{"b":2}\n  \n{"c":3}')
    assert count_lines(path) == 3


def test_the_manifest_names_each_file_s_type(tmp_path: Path) -> None:
    for name in ("Patient.ndjson", "Claim-1.ndjson", "Claim%202.ndjson", "other.ndjson"):
        (tmp_path / name).write_bytes(b"{}\n")
    (tmp_path / "manifest.json").write_text(json.dumps({"output": [
        {"type": "Patient", "url": "https://ehr.example.org/bulk/x/Patient.ndjson"},
        {"type": "Claim", "url": "https://ehr.example.org/bulk/x/Claim-1.ndjson?sig=1"},
        {"type": "Claim", "url": "https://ehr.example.org/bulk/x/Claim%25202.ndjson"},
        {"type": 3, "url": "https://ehr.example.org/bulk/x/other.ndjson"}]}), "utf-8")
    assert manifest_types(tmp_path) == {"Patient.ndjson": "Patient", "Claim-1.ndjson": "Claim",
                                        "Claim%202.ndjson": "Claim"}
    files = sorted(tmp_path.glob("*.ndjson"))
    read, skipped = files_to_read(tmp_path, files)
    assert [p.name for p in skipped] == ["Claim%202.ndjson", "Claim-1.ndjson"]
    assert [p.name for p in read] == ["Patient.ndjson", "other.ndjson"]  # untyped: read
    (tmp_path / "manifest.json").write_text("not json", "utf-8")
    assert files_to_read(tmp_path, files) == (files, [])
