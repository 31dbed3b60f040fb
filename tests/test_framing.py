"""Tests of collectors.framing: newline, octet counting (RFC 6587) and auto framing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.framing import AutoFramer, NewlineFramer, OctetCountingFramer, make_framer


def feed_all(framer, chunks):
    out = []
    for c in chunks:
        out.extend(framer.feed(c))
    out.extend(framer.flush())
    return out


def test_newline_strips_crlf_and_skips_empty():
    f = NewlineFramer()
    assert f.feed(b"a\r\n\nb\nc") == [b"a", b"b"]
    assert f.feed(b"d\n") == [b"cd"]
    assert f.flush() == []


def test_newline_flush_emits_partial():
    f = NewlineFramer()
    assert f.feed(b"<13>partial") == []
    assert f.flush() == [b"<13>partial"]


def test_newline_truncates_oversized_frames_and_counts():
    f = NewlineFramer(max_frame_bytes=4)
    assert f.feed(b"abcdefgh\nxy\n") == [b"abcd", b"xy"]
    assert f.truncated == 1
    # an oversized partial frame: its head comes out at once, the rest is discarded
    assert f.feed(b"123456") == [b"1234"]
    assert f.feed(b"789\nok\n") == [b"ok"]
    assert f.truncated == 2
    assert "longer than 4 bytes" in (f.last_error or "")


def test_octet_counting_frames_and_whitespace_between():
    f = OctetCountingFramer()
    msg1, msg2 = b"<13>hello world", b"<14>line with\nnewline"
    data = b"%d %s\n%d %s" % (len(msg1), msg1, len(msg2), msg2)
    assert f.feed(data) == [msg1, msg2]
    assert f.errors == 0


def test_octet_partial_frame_at_close_is_an_error():
    f = OctetCountingFramer()
    assert f.feed(b"20 <13>short") == []
    assert f.flush() == []
    assert f.errors == 1
    assert "closed inside an octet-counted frame" in (f.last_error or "")


def test_octet_bad_header_falls_back_to_one_newline_frame():
    f = OctetCountingFramer()
    assert f.feed(b"<13>not counted\n5 hello") == [b"<13>not counted", b"hello"]
    assert f.errors == 1
    assert "not a digit" in (f.last_error or "")


def test_octet_oversized_frame_truncated_rest_skipped():
    f = OctetCountingFramer(max_frame_bytes=5)
    assert f.feed(b"10 0123456789") == [b"01234"]
    assert f.feed(b"2 ok") == [b"ok"]
    assert f.truncated == 1


def test_auto_detects_octet_and_newline():
    a = AutoFramer()
    assert a.feed(b"1") == []  # undecided: digits only
    assert a.feed(b"1 <13>hello w") == [b"<13>hello w"]
    assert a.mode == "octet"
    b = AutoFramer()
    assert b.feed(b"<13>one\n<13>two\n") == [b"<13>one", b"<13>two"]
    assert b.mode == "newline"
    c = AutoFramer()
    assert c.feed(b"2024-01-01T00:00:00Z host app: x\n") == [b"2024-01-01T00:00:00Z host app: x"]
    assert c.mode == "newline"


def test_make_framer_rejects_unknown():
    with pytest.raises(ValueError, match="unknown framing 'lf'"):
        make_framer("lf")


messages = st.lists(
    st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\n", b"x").replace(b"\r", b"y")),
    min_size=0,
    max_size=20,
)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in points:
        out.append(data[prev:p])
        prev = p
    out.append(data[prev:])
    return out


@settings(max_examples=200, deadline=None)
@given(msgs=messages, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=15))
def test_newline_any_split_gives_same_frames(msgs, cuts):
    data = b"".join(m + b"\n" for m in msgs)
    whole = feed_all(NewlineFramer(), [data])
    assert whole == msgs
    assert feed_all(NewlineFramer(), _chunks(data, cuts)) == msgs


@settings(max_examples=200, deadline=None)
@given(msgs=messages, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=15))
def test_octet_and_auto_any_split_gives_same_frames(msgs, cuts):
    msgs = [b"<" + m for m in msgs]  # syslog messages start with '<'
    data = b"".join(b"%d %s" % (len(m), m) for m in msgs)
    assert feed_all(OctetCountingFramer(), _chunks(data, cuts)) == msgs
    auto = AutoFramer()
    assert feed_all(auto, _chunks(data, cuts)) == msgs


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(min_value=0, max_value=1000), max_size=10))
def test_arbitrary_bytes_split_invariant_and_bounded(data, cuts):
    for cls in (NewlineFramer, OctetCountingFramer, AutoFramer):
        whole = feed_all(cls(max_frame_bytes=16), [data])
        assert feed_all(cls(max_frame_bytes=16), _chunks(data, cuts)) == whole
        assert all(0 < len(f) <= 16 for f in whole)
