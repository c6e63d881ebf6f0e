"""The JSON edge: size, nesting depth and strict UTF-8, checked on the bytes (issue 13, items 4, 6)."""

from __future__ import annotations

import io
import pickle

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from myositis_cds.adapters import json_edge
from myositis_cds.adapters.json_edge import MAX_DEPTH, JsonEvents, JsonRefusedError


def _depth(document: object) -> int:
    if isinstance(document, dict):
        return 1 + max((_depth(v) for v in document.values()), default=0)
    if isinstance(document, list):
        return 1 + max((_depth(v) for v in document), default=0)
    return 0


def test_nesting_is_measured_on_the_bytes_ignoring_brackets_in_strings() -> None:
    json_edge.check_depth(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    json_edge.check_depth(b'{"a": "' + b"[" * 10_000 + b'"}')  # text, not nesting
    json_edge.check_depth(b'["\\"[[[[", ' + b"[" * 60 + b"]" * 60 + b"]")
    with pytest.raises(JsonRefusedError, match="nested more than 64 levels"):
        json_edge.check_depth(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    with pytest.raises(JsonRefusedError):
        json_edge.check_depth(b'{"labs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")


@given(st.recursive(st.none() | st.integers(-1000, 1000) | st.text(alphabet="[]{}\"\\ab"),
                    lambda children: st.lists(children, max_size=3)
                    | st.dictionaries(st.text(alphabet="[]{}\"\\ab", max_size=3), children,
                                      max_size=3), max_leaves=40))
def test_the_byte_measure_agrees_with_the_decoded_depth(document: object) -> None:
    data = orjson.dumps(document)
    for limit in (1, 2, 3, 5):
        if _depth(document) > limit:
            with pytest.raises(JsonRefusedError):
                json_edge.check_depth(data, limit)
        else:
            json_edge.check_depth(data, limit)


def test_loads_refuses_size_invalid_utf8_and_lone_surrogates() -> None:
    assert json_edge.loads(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}
    for data, found in ((b'{"id": "x\xed\xa0\x80y"}', "invalid JSON"),
                        (b'{"id": "x\\ud800y"}', "invalid JSON"),
                        (b"x" * 11, "11 bytes")):
        with pytest.raises(JsonRefusedError, match=found):
            json_edge.loads(data, max_bytes=10 if len(data) == 11 else 1000)
    with pytest.raises(JsonRefusedError, match=r"NUL character .* at \$\.feedback\[0\]\.card"):
        json_edge.loads(b'{"feedback": [{"card": "c\\u0000d"}]}', refuse_nul=True)
    assert json_edge.loads(b'{"a": "c\\u0000d"}') == {"a": "c\x00d"}


def test_a_refusal_is_an_orjson_decode_error_that_survives_pickling() -> None:
    with pytest.raises(orjson.JSONDecodeError) as caught:
        json_edge.loads(b"[" * 100 + b"]" * 100)
    copy = pickle.loads(pickle.dumps(caught.value))  # worklist workers send it between processes
    assert isinstance(copy, JsonRefusedError)
    assert copy.expected == "at most 64 levels of nested arrays and objects"


def test_load_object_refuses_a_string_holding_json() -> None:
    with pytest.raises(Exception, match="got a string; expected a JSON object"):
        json_edge.load_object(orjson.dumps(orjson.dumps({"id": "p"}).decode()), source="body")


def _events(data: bytes, chunk: int) -> list[tuple[str, object]]:
    class Chunked(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            return super().read(chunk if size is None or size < 0 else min(chunk, size))

    return list(JsonEvents(Chunked(data)))


@pytest.mark.parametrize("chunk", [1, 2, 5, 11, 12, 13, 4096])
def test_streamed_escapes_of_lone_surrogates_are_refused_across_chunk_boundaries(chunk: int) -> None:
    assert _events(b'{"a": "\\ud83d\\ude00 ok"}', chunk)[1:3] == [("map_key", "a"),
                                                                ("string", "\U0001f600 ok")]
    for bad in (b'{"a": "x\\ud800"}', b'{"a": "\\udc00x"}', b'{"a": "\\ud83d\\ud83d\\ude00"}'):
        with pytest.raises(JsonRefusedError, match="lone surrogate"):
            _events(bad, chunk)
    with pytest.raises(JsonRefusedError, match="not UTF-8"):
        _events(b'{"a": "x\xed\xa0\x80y"}', chunk)
    with pytest.raises(JsonRefusedError, match="nested more than 64"):
        _events(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", chunk * 100)
