"""The manifest of a FHIR Bulk Data export: which resource type each NDJSON file holds.

A Bulk Data server answers an export with a manifest (``manifest.json`` beside the files when the
export is downloaded) whose ``output`` lists each file's URL and ``type``; the specification says
each file "SHALL contain resources of only one type". A worklist reads the files of the types the
importer maps only, and counts the lines of the others without reading them. A file the manifest
does not name (or a folder without manifest) is read line by line as before.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit

import orjson

from myositis_cds.adapters import json_edge

__all__ = ["MANIFEST", "count_lines", "files_to_read", "manifest_types"]

MANIFEST: Final = "manifest.json"
_CHUNK: Final = 8 * 1024 * 1024
_BLANK: Final = re.compile(rb"\n[ \t\r]*(?=\n)")
"""A newline followed by a blank line: that blank line's newline is not a line read."""
_LEADING_BLANK: Final = re.compile(rb"[ \t\r]*\n")


def manifest_types(folder: Path) -> dict[str, str]:
    """File name → resource type, from the folder's ``manifest.json`` (empty without one, or when
    it is not a Bulk Data manifest)."""
    path = folder / MANIFEST if folder.is_dir() else folder.parent / MANIFEST
    try:
        data = json_edge.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    output = data.get("output") if isinstance(data, dict) else None
    if not isinstance(output, list):
        return {}
    found: dict[str, str] = {}
    for item in output:
        if not isinstance(item, dict):
            continue
        kind, url = item.get("type"), item.get("url")
        if isinstance(kind, str) and isinstance(url, str):
            name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
            if name:
                found[name] = kind
    return found


def count_lines(path: Path) -> int:
    """The lines of a file that hold something but whitespace (the lines an engine would read),
    counted by chunks without decoding them."""
    count = 0
    tail = b""
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            block = tail + chunk  # starts at the start of a line
            cut = block.rfind(b"\n") + 1
            if not cut:
                tail = block
                continue
            count += block.count(b"\n", 0, cut) - len(_BLANK.findall(block, 0, cut))
            if _LEADING_BLANK.match(block):
                count -= 1  # a blank first line (the other blank lines follow a newline)
            tail = block[cut:]
    if tail.strip():
        count += 1
    return count


def files_to_read(folder: Path, files: list[Path]) -> tuple[list[Path], list[Path]]:
    """(files to read, files the manifest types as resources the importer does not map)."""
    from myositis_cds.adapters.fhir.importing.importer import (  # noqa: PLC0415 - no cycle
        MAPPED_RESOURCE_TYPES,
    )

    types = manifest_types(folder)
    skipped = [p for p in files if types.get(p.name, "Patient") not in MAPPED_RESOURCE_TYPES]
    return [p for p in files if p not in skipped], skipped
