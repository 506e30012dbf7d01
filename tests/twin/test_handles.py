"""Handle grammar: what parses, how it is normalised, and errors that name the bad part."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from factoryos.store import identifier_registry as store
from factoryos.twin.errors import HandleError
from factoryos.twin.handles import (
    MAX_HANDLE,
    MAX_PREFIX,
    MAX_SUFFIX,
    SUFFIX_CHARACTERS,
    Handle,
    ancestors,
    is_under,
    parse_handle,
    parse_prefix,
)


@pytest.mark.parametrize(
    ("text", "prefix", "suffix"),
    [
        ("88.123.4567/SN-000042", "88.123.4567", "SN-000042"),
        ("88/x", "88", "x"),
        ("88.ABC.x1/Serial", "88.abc.x1", "Serial"),  # prefix case-folded, suffix kept
        ("86.1.2/01/09506000134352/21/987", "86.1.2", "01/09506000134352/21/987"),
        ("1.2/a.b_c~d!$&'()*+,;=:@", "1.2", "a.b_c~d!$&'()*+,;=:@"),
        ("a.b.c.d.e.f.g.h/z", "a.b.c.d.e.f.g.h", "z"),
    ],
)
def test_valid_handles_parse_and_normalise(text: str, prefix: str, suffix: str) -> None:
    handle = parse_handle(text)

    assert handle == Handle(prefix, suffix)
    assert str(handle) == f"{prefix}/{suffix}"
    assert parse_handle(str(handle)) == handle  # normal form is stable


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("88.123", "no '/'"),
        ("/x", "prefix is empty"),
        ("88..1/x", "segment 2 is empty"),
        ("88.1./x", "segment 3 is empty"),
        ("88.1-2/x", "segment 2 has '-'"),
        (
            "88.\u212a/x",
            "segment 2 has '\u212a' (U+212A)",
        ),  # the Kelvin sign lower-cases to ASCII k
        ("88.12345678901234567/x", "segment 2 is 17 characters long, at most 16"),
        ("1.2.3.4.5.6.7.8.9/x", "has 9 segments, at most 8"),
        ("88.1/", "suffix is empty"),
        ("88.1/a b", "character 2 is ' '"),
        ("88.1/a%20b", "character 2 is '%'"),
        ("88.1/a?b", "character 2 is '?'"),
        ("88.1/工厂", "character 1 is '工' (U+5DE5)"),
        ("88.1/a//b", "part 2 is empty"),
        ("88.1/a/", "part 2 is empty"),
        ("88.1/a/../b", "part 2 is '..'"),
        ("88.1/.", "part 1 is '.'"),
        ("88.1/" + "x" * (MAX_SUFFIX + 1), f"201 characters long, at most {MAX_SUFFIX}"),
        ("88.1/a\x00", "character 2 is '\\x00'"),
    ],
)
def test_malformed_handles_name_the_offending_part(text: str, message: str) -> None:
    with pytest.raises(HandleError, match=r"^handle: ") as caught:
        parse_handle(text)

    assert message in str(caught.value)


def test_the_error_names_the_field_and_shortens_long_input() -> None:
    with pytest.raises(HandleError) as caught:
        parse_prefix("9" * 5000, field="body.prefix")

    assert str(caught.value).startswith("body.prefix: '99999")
    assert len(str(caught.value)) < 200


def test_prefixes_parse_alone() -> None:
    assert parse_prefix("88.ABC") == "88.abc"
    with pytest.raises(HandleError, match="segment 2 is empty"):
        parse_prefix("88.")
    with pytest.raises(HandleError, match="is empty"):
        parse_prefix("")


def test_ancestors_longest_first_and_whole_segments() -> None:
    assert ancestors("88.123.4567") == ("88.123.4567", "88.123", "88")
    assert ancestors("88") == ("88",)
    assert is_under("88.123.4567", "88.123")
    assert is_under("88.123", "88.123")
    assert not is_under("88.1234", "88.123")  # by segment, not by characters
    assert not is_under("88", "88.123")


def test_the_limits_fit_the_store_columns() -> None:
    assert MAX_PREFIX <= store.MAX_PREFIX
    assert MAX_HANDLE <= store.MAX_HANDLE
    assert len(str(parse_handle("a" * 16 + ".b" * 0 + "/" + "x" * MAX_SUFFIX))) <= MAX_HANDLE


_segment = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=16)
_part = st.text("".join(sorted(SUFFIX_CHARACTERS)), min_size=1, max_size=20).filter(
    lambda p: p not in (".", "..")
)


@given(st.lists(_segment, min_size=1, max_size=8), st.lists(_part, min_size=1, max_size=5))
def test_every_handle_of_the_grammar_parses_back_to_itself(
    segments: list[str], parts: list[str]
) -> None:
    text = ".".join(segments) + "/" + "/".join(parts)
    if len(text) - len(".".join(segments)) - 1 > MAX_SUFFIX:
        return
    assert str(parse_handle(text)) == text


@given(st.text(max_size=60))
def test_any_text_parses_or_raises_a_handle_error(text: str) -> None:
    try:
        handle = parse_handle(text)
    except HandleError as exc:
        message = str(exc)
    else:
        assert handle.prefix.isascii() and len(str(handle)) <= MAX_HANDLE
        return
    assert message.startswith("handle: ")
