"""The JSON edge: untrusted bytes are bounded and strictly decoded before any parser builds objects.

Every JSON input of the package comes through here — record files and streamed batches on the
command line, FHIR Bundles and NDJSON lines, the web API's bodies, CDS Hooks requests:

- **size**: a document read whole is at most ``max_bytes``; one record of a streamed batch at most
  :data:`MAX_RECORD_BYTES` (the stream itself may be any length);
- **nesting**: at most :data:`MAX_DEPTH` levels of arrays and objects, checked on the bytes before
  decoding (a streamed document: as its events arrive), so a deeply nested document never reaches
  a recursive parser, validator or encoder (``RecursionError``, quadratic memory);
- **strict UTF-8**: bytes that are not UTF-8 — including UTF-8-encoded surrogates
  (``\\xed\\xa0\\x80``) — and ``\\uXXXX`` escapes of lone surrogates are refused, so no lone
  surrogate reaches a database or a log.

Whether a document must be a JSON *object* (a record is; a string holding JSON is not) is for the
caller to say: :func:`load_object`, and ``parse_record`` refuses anything but an object or raw bytes.

Refusals are :class:`JsonRefusedError`, a subclass of ``orjson.JSONDecodeError``, so every reader
that already reports undecodable JSON (with its file, line or JSON path) reports these too; and
:func:`refusal` turns one into the record error (source and JSON path) the command line and the web
application print.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final

import ijson
import orjson

from myositis_cds.errors import FieldError, RecordValidationError

__all__ = [
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_RECORD_BYTES",
    "Found",
    "JsonEvents",
    "JsonRefusedError",
    "check_depth",
    "kind_of",
    "load_document",
    "load_object",
    "loads",
    "nul_paths",
    "read_file",
    "refusal",
]

MAX_DEPTH: Final = 64
"""Levels of nested arrays and objects accepted (a record needs about 5, a FHIR resource 15)."""
MAX_DOCUMENT_BYTES: Final = 64 * 1024 * 1024
"""Largest JSON document read whole (a record file, a FHIR Bundle, one NDJSON line)."""
MAX_RECORD_BYTES: Final = 16 * 1024 * 1024
"""Largest single record of a streamed batch (a record of 100,000 labs is about 10 MB)."""

_STRING: Final = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"')  # possessive: no backtracking
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_SURROGATE_ESCAPE: Final = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_PAIR_LENGTH: Final = 12
"""Bytes of an escaped surrogate pair (``\\ud83d\\ude00``); a shorter match is a lone surrogate."""
_PARTIAL: Final = 5
"""Bytes kept from one read to the next: an escape ``\\uXXXX`` cut by the chunk boundary."""


class JsonRefusedError(orjson.JSONDecodeError):
    """JSON refused at the edge (too large, too deep, not strict UTF-8, not decodable).

    ``msg`` says what was found, :attr:`expected` what would have been accepted."""

    expected: str = "valid JSON"

    def __reduce__(self) -> tuple[Any, ...]:  # keeps `expected` across processes (worklists)
        return _rebuild, (self.msg, self.expected, self.doc, self.pos)


def _rebuild(found: str, expected: str, doc: str, position: int) -> JsonRefusedError:
    error = JsonRefusedError(found, doc, position)
    error.expected = expected
    return error


def _refused(found: str, expected: str, data: bytes | str = b"", position: int = 0) -> JsonRefusedError:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return _rebuild(found, expected, text[:position + 1] if position else "", position)


class Found:
    """What a refused document held, shown as it is (not quoted) in a :class:`FieldError`."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


def check_depth(data: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Refuse ``data`` when its arrays and objects nest deeper than ``max_depth`` (C-speed: the
    brackets inside strings are removed, the others summed; most documents skip even that)."""
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    import numpy as np  # noqa: PLC0415 - only for documents with many brackets

    codes = np.frombuffer(brackets, dtype=np.uint8)
    depth = np.cumsum(np.where((codes == ord("[")) | (codes == ord("{")), 1, -1), dtype=np.int64)
    if depth.size and int(depth.max()) > max_depth:
        raise _too_deep(max_depth)


def _too_deep(max_depth: int) -> JsonRefusedError:
    return _refused(f"arrays and objects nested more than {max_depth} levels deep",
                    f"at most {max_depth} levels of nested arrays and objects")


def nul_paths(document: object, prefix: str = "$") -> list[str]:
    """JSON paths of the strings (keys or values) of a decoded document that hold U+0000."""
    found: list[str] = []
    stack: list[tuple[str, object]] = [(prefix, document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                found.append(path)
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    found.append(f"{path}.{key!r}")
                stack.append((f"{path}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return sorted(found)


def loads(data: bytes | str, *, max_bytes: int = MAX_DOCUMENT_BYTES, max_depth: int = MAX_DEPTH,
          refuse_nul: bool = False) -> Any:
    """Decode one JSON document within the limits (orjson: strict UTF-8, no lone surrogates);
    with ``refuse_nul``, a string holding U+0000 (which PostgreSQL cannot store) is refused too."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise _refused(f"{len(raw)} bytes", f"a JSON document of at most {max_bytes} bytes")
    check_depth(raw, max_depth)
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if raw else ""
        raise _refused(f"invalid JSON ({exc.msg}{where})", "valid JSON", raw, exc.pos) from None
    if refuse_nul and b"\\u0000" in raw:
        paths = nul_paths(document)
        if paths:
            raise _refused(f"a NUL character (U+0000) in the text at {', '.join(paths[:5])}",
                           "text without NUL characters")
    return document


def read_file(path: Path, *, max_bytes: int = MAX_DOCUMENT_BYTES, refuse_nul: bool = False) -> Any:
    """:func:`loads` of a whole file; a file over ``max_bytes`` is refused before it is read
    (``OSError`` when it cannot be read)."""
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _refused(f"a file of more than {max_bytes} bytes",
                       f"a JSON document of at most {max_bytes} bytes")
    return loads(data, max_bytes=max_bytes, refuse_nul=refuse_nul)


def refusal(exc: JsonRefusedError, *, source: str, path: str = "$") -> RecordValidationError:
    """The record error (naming ``source`` and the JSON ``path``) for a refused document."""
    return RecordValidationError(
        [FieldError(path=path, value=Found(exc.msg), expected=exc.expected)], source=source)


def load_document(data: bytes | str, *, source: str, max_bytes: int = MAX_DOCUMENT_BYTES,
                  refuse_nul: bool = False) -> object:
    """:func:`loads`, a refusal raised as :func:`refusal`'s record error."""
    try:
        return loads(data, max_bytes=max_bytes, refuse_nul=refuse_nul)
    except JsonRefusedError as exc:
        raise refusal(exc, source=source) from None


def load_object(data: bytes | str, *, source: str, max_bytes: int = MAX_DOCUMENT_BYTES,
                expected: str = "a JSON object") -> dict[str, Any]:
    """A JSON document that must be an object (a record; a string holding JSON is not one)."""
    document = load_document(data, source=source, max_bytes=max_bytes)
    if not isinstance(document, dict):
        raise RecordValidationError(
            [FieldError(path="$", value=kind_of(document), expected=expected)], source=source)
    return document


def kind_of(value: object) -> Found:
    """A JSON value's kind as a message shows it (``a string``, ``an array``...)."""
    names = {str: "a string", list: "an array", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return Found(names.get(type(value), type(value).__name__))


class _StrictReader:
    """What ijson reads: counts the bytes and refuses escapes of lone surrogates on the way."""

    __slots__ = ("_carry", "_stream", "consumed", "limit", "max_unit")

    def __init__(self, stream: IO[bytes], max_unit: int) -> None:
        self._stream = stream
        self._carry = b""
        self.consumed = 0
        self.max_unit = max_unit
        self.limit = max_unit

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self.consumed += len(chunk)
        if self.consumed > self.limit:  # refused before a huge token is buffered whole
            raise _refused(f"more than {self.max_unit} bytes",
                           f"a record of at most {self.max_unit} bytes")
        if chunk or size != 0:  # ijson first reads 0 bytes to learn the stream's type
            self._scan(chunk, final=not chunk)
        return chunk

    def _scan(self, chunk: bytes, *, final: bool) -> None:
        """Judge every escaped surrogate in the bytes read, before ijson parses them; a high
        surrogate at the very end waits for the next chunk (its low half may follow)."""
        text = self._carry + chunk
        if b"\\u" not in text:  # almost always: no escape at all
            self._carry = b"" if final else text[-_PARTIAL:]
            return
        resume = 0
        for match in _SURROGATE_ESCAPE.finditer(text):
            if match.end() - match.start() == _PAIR_LENGTH:
                resume = match.end()
                continue
            high = text[match.start() + 3] in b"89abAB"
            if high and not final and match.end() + _PAIR_LENGTH // 2 > len(text):
                self._carry = text[match.start():]
                return
            raise _refused(f"the escape {match.group().decode('ascii')} of a lone surrogate",
                           "text without lone surrogates (strict UTF-8)")
        self._carry = b"" if final else text[max(len(text) - _PARTIAL, resume):]


class JsonEvents:
    """ijson's basic events of a streamed document, within :data:`MAX_DEPTH`, strict UTF-8, and
    at most ``max_unit`` bytes (to within ijson's 64 KiB read-ahead) per *unit*: from the start,
    or from the last :meth:`start_unit` (a reader calls it as each record of a batch begins).

    ``depth`` is the nesting after the last event (1 inside the top-level object). Refusals raise
    :class:`JsonRefusedError`.
    """

    def __init__(self, stream: IO[bytes], *, max_depth: int = MAX_DEPTH,
                 max_unit: int = MAX_RECORD_BYTES) -> None:
        self._reader = _StrictReader(stream, max_unit)
        self._max_depth = max_depth
        self.depth = 0

    def start_unit(self) -> None:
        """A new unit starts here: it may take ``max_unit`` bytes from now."""
        self._reader.limit = self._reader.consumed + self._reader.max_unit

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        try:
            for event, value in ijson.basic_parse(self._reader, use_float=True):
                if event in ("start_map", "start_array"):
                    self.depth += 1
                    if self.depth > self._max_depth:
                        raise _too_deep(self._max_depth)
                elif event in ("end_map", "end_array"):
                    self.depth -= 1
                yield event, value
        except UnicodeDecodeError:
            raise _refused("bytes that are not UTF-8 text (or UTF-8-encoded surrogates)",
                           "strict UTF-8 text") from None
        except ijson.JSONError as exc:
            raise _refused(f"invalid JSON ({_ijson_message(exc)})", "valid JSON") from None


def _ijson_message(exc: Exception) -> str:
    """The parser's message without the excerpt of the document it quotes (it may hold data)."""
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    first = str(text).strip().splitlines()[:1]
    return (first[0] if first else "not valid JSON")[:200]
