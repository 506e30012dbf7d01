"""GS1 identifiers: check digits, Digital Link URIs, EPC URNs, conversions and patterns.

Example identifiers come from the standards (GS1 General Specifications, TDS, GS1's own
tools) and from the GS1 EPCIS 2.0 examples in ../shared/datasets/epcis/examples.
"""

import re
from pathlib import Path

import pytest

from factoryos.apps.trace.errors import IdentifierError, TraceError
from factoryos.apps.trace.identifiers import (
    CANONICAL_BASE,
    DigitalLink,
    EpcUrn,
    digital_link_to_urn,
    gs1_check_digit,
    has_valid_check_digit,
    matches,
    normalise_gtin,
    parse_digital_link,
    parse_urn,
    urn_to_digital_link,
    verify_gln,
    verify_sscc,
)
from factoryos.errors import FactoryOSError

EXAMPLES = Path(__file__).resolve().parents[4] / "shared" / "datasets" / "epcis" / "examples"
IDENTIFIER = re.compile(r"(?:urn:epc:(?:id|class|idpat):|https://id\.gs1\.org/)[^\s\"'<>]+")

# Identifiers in the EPCIS examples that are invalid per the standards, with the reason.
# Every URN and id.gs1.org Digital Link in the 84 example files was checked against TDS
# (component digit counts, company prefix 6-12 digits, GS3A3 characters and lengths) and
# the Digital Link rules (check digits, qualifier order, CSET 82): none is invalid.
INVALID_IN_EXAMPLES: dict[str, str] = {}

GTIN = "09506000134352"  # GS1's example GTIN; check digit worked out below


# ── Check digits ──────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("body", "digit"),
    [
        # GTIN-14 09506000134352: from the right 5,3,4,3,1,0,0,0,6,0,5,9,0 x 3,1,3,1…
        # = 15+3+12+3+3+0+0+0+18+0+15+9+0 = 78 -> 80-78 = 2
        ("0950600013435", 2),
        # GTIN-8 96385074: 7,0,5,8,3,6,9 x 3,1… = 21+0+15+8+9+6+27 = 86 -> 4
        ("9638507", 4),
        # GTIN-12 614141123452: 5,4,3,2,1,1,4,1,4,1,6 x 3,1… = 15+4+9+2+3+1+12+1+12+1+18 = 78 -> 2
        ("61414112345", 2),
        # GLN 0614141123452: 5,4,3,2,1,1,4,1,4,1,6,0 x 3,1… = 78 as above, +0 -> 2
        ("061414112345", 2),
        # SSCC 106141412345678908: 0,9,8,7,6,5,4,3,2,1,4,1,4,1,6,0,1 x 3,1…
        # = 0+9+24+7+18+5+12+3+6+1+12+1+12+1+18+0+3 = 132 -> 8
        ("10614141234567890", 8),
        # GLN 9506000134307 (examples): 0,3,4,3,1,0,0,0,6,0,5,9 x 3,1…
        # = 0+3+12+3+3+0+0+0+18+0+15+9 = 63 -> 7
        ("950600013430", 7),
        # a body whose weighted sum is a multiple of ten: 0 x 3 = 0 -> check digit 0
        ("0", 0),
    ],
)
def test_check_digit_worked_by_hand(body: str, digit: int) -> None:
    assert gs1_check_digit(body) == digit
    assert has_valid_check_digit(body + str(digit))
    assert not has_valid_check_digit(body + str((digit + 1) % 10))


@pytest.mark.parametrize("bad", ["", "12a4", "١٢٣", "12 3"])
def test_check_digit_needs_ascii_digits(bad: str) -> None:
    with pytest.raises(IdentifierError, match="digits only"):
        gs1_check_digit(bad)
    assert not has_valid_check_digit(bad)


@pytest.mark.parametrize(
    ("given", "gtin14"),
    [
        ("96385074", "00000096385074"),  # GTIN-8
        ("614141123452", "00614141123452"),  # GTIN-12 (UPC-A)
        ("9506000134352", GTIN),  # GTIN-13
        (GTIN, GTIN),  # GTIN-14
    ],
)
def test_gtin_of_any_length_normalised_to_14(given: str, gtin14: str) -> None:
    assert normalise_gtin(given) == gtin14


def test_wrong_gtin_check_digit_names_both_digits() -> None:
    with pytest.raises(IdentifierError) as caught:
        normalise_gtin("09506000134353")
    assert str(caught.value) == "GTIN 09506000134353: check digit 3 should be 2"


@pytest.mark.parametrize("bad", ["123456789", "0950600013435X", "095060001343520"])
def test_gtin_of_impossible_length_or_characters(bad: str) -> None:
    with pytest.raises(IdentifierError, match=r"expected 8 or 12 or 13 or 14 digits"):
        normalise_gtin(bad)


def test_gln_and_sscc_checked() -> None:
    assert verify_gln("0614141123452") == "0614141123452"
    assert verify_sscc("106141412345678908") == "106141412345678908"
    with pytest.raises(IdentifierError, match="GLN 0614141123453: check digit 3 should be 2"):
        verify_gln("0614141123453")
    with pytest.raises(IdentifierError, match="SSCC 106141412345678909: check digit 9 should be 8"):
        verify_sscc("106141412345678909")
    with pytest.raises(IdentifierError, match="expected 13 digits"):
        verify_gln("061414112345")


def test_one_exception_root() -> None:
    assert issubclass(IdentifierError, TraceError)
    assert issubclass(TraceError, FactoryOSError)
    assert issubclass(IdentifierError, ValueError)


# ── Digital Link: parsing and building ───────────────────────────────────────────────


def test_gtin_with_serial() -> None:
    link = parse_digital_link("https://id.gs1.org/01/09506000134352/21/ABC123")
    assert (link.key_ai, link.key, link.base) == ("01", GTIN, CANONICAL_BASE)
    assert link.qualifiers == (("21", "ABC123"),)
    assert link.qualifier("21") == "ABC123"
    assert link.qualifier("10") is None
    assert link.uri == "https://id.gs1.org/01/09506000134352/21/ABC123"


def test_gtin_with_lot_sscc_and_gln() -> None:
    lot = parse_digital_link(f"https://id.gs1.org/01/{GTIN}/10/ABC-1")
    assert lot.qualifier("10") == "ABC-1"
    sscc = parse_digital_link("https://id.gs1.org/00/106141412345678908")
    assert (sscc.key_ai, sscc.key, sscc.qualifiers) == ("00", "106141412345678908", ())
    gln = parse_digital_link("https://id.gs1.org/414/9506000134307")
    assert (gln.key_ai, gln.key) == ("414", "9506000134307")
    extended = parse_digital_link("https://id.gs1.org/414/9506000134307/254/DOCK_4")
    assert extended.qualifier("254") == "DOCK_4"


def test_gtin_with_every_qualifier_in_order() -> None:
    uri = f"https://id.gs1.org/01/{GTIN}/22/2A/10/L1/21/S1"
    link = parse_digital_link(uri)
    assert link.qualifiers == (("22", "2A"), ("10", "L1"), ("21", "S1"))
    assert link.uri == uri


def test_any_domain_and_path_prefix_kept_as_base() -> None:
    link = parse_digital_link(f"https://brand.example.com/products/q/01/{GTIN}/21/7")
    assert link.base == "https://brand.example.com/products/q"
    assert link.key == GTIN
    assert link.uri == f"https://brand.example.com/products/q/01/{GTIN}/21/7"


def test_prefix_that_looks_like_a_key_stays_prefix() -> None:
    # "/00/x" comes before the real key: the last key followed by whole pairs wins
    link = parse_digital_link(f"http://example.org/00/x/01/{GTIN}")
    assert (link.base, link.key_ai) == ("http://example.org/00/x", "01")


@pytest.mark.parametrize("short", ["9506000134352", "614141123452", "96385074"])
def test_short_gtin_in_path_padded_to_14(short: str) -> None:
    link = parse_digital_link(f"https://example.com/01/{short}")
    assert link.key == short.zfill(14)
    assert link.uri == f"https://example.com/01/{short.zfill(14)}"


def test_query_attributes_kept_as_data_in_order() -> None:
    link = parse_digital_link(f"https://id.gs1.org/01/{GTIN}/10/L?17=201231&3103=000189&x=a+b")
    assert link.attributes == (("17", "201231"), ("3103", "000189"), ("x", "a b"))
    assert link.attribute("17") == "201231"
    assert link.attribute("15") is None
    assert link.uri == f"https://id.gs1.org/01/{GTIN}/10/L?17=201231&3103=000189&x=a%20b"


def test_fragment_is_not_part_of_the_identifier() -> None:
    link = parse_digital_link(f"https://id.gs1.org/01/{GTIN}#top")
    assert link.uri == f"https://id.gs1.org/01/{GTIN}"


# ── Digital Link: percent-encoding and AI 82 characters ──────────────────────────────


def test_serial_with_reserved_characters_encoded_and_decoded() -> None:
    serial = 'A/B%C&D?E"F<G>H'  # all CSET 82, all reserved or unsafe in a URI
    link = DigitalLink("01", GTIN, (("21", serial),))
    assert link.uri == f"https://id.gs1.org/01/{GTIN}/21/A%2FB%25C%26D%3FE%22F%3CG%3EH"
    assert parse_digital_link(link.uri).qualifier("21") == serial


def test_every_cset82_character_round_trips() -> None:
    for chunk in ("!\"%&'()*+,-./0123", "456789:;<=>?ABCDEFG", "XYZ_abcdefghijxyz"):
        link = DigitalLink("01", GTIN, (("21", chunk),))
        assert parse_digital_link(link.uri) == link


def test_raw_sub_delimiters_and_lower_case_escapes_accepted() -> None:
    link = parse_digital_link(f"https://id.gs1.org/01/{GTIN}/21/A!B*(C)%2fD")
    assert link.qualifier("21") == "A!B*(C)/D"
    assert link.uri == f"https://id.gs1.org/01/{GTIN}/21/A%21B%2A%28C%29%2FD"  # canonical


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a@b", r"character '@' is not in GS1 AI character set 82"),
        ("a%23b", r"character '#' is not in GS1 AI character set 82"),
        ("a%20b", r"character ' ' is not in GS1 AI character set 82"),
        ("a b", r"character ' ' at position 1 must be %20"),
        ('a"b', r"character '\"' at position 1 must be %22"),
        ("a%4", r"bad escape '%4' at position 1"),
        ("a%zzb", r"bad escape '%zz' at position 1"),
        ("%00", r"bad escape '%00' at position 0"),
        ("caf%C3%A9", r"bad escape '%C3'"),
    ],
)
def test_serial_characters_outside_cset82_rejected(value: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        parse_digital_link(f"https://id.gs1.org/01/{GTIN}/21/{value}")


@pytest.mark.parametrize(
    ("path", "name"),
    [
        (f"01/{GTIN}/21/", "serial"),
        (f"01/{GTIN}/10/", "lot"),
        ("414/9506000134307/254/", "GLN extension"),
    ],
)
def test_text_values_at_most_20_characters(path: str, name: str) -> None:
    twenty = "X" * 20
    assert parse_digital_link(f"https://id.gs1.org/{path}{twenty}").qualifiers[0][1] == twenty
    with pytest.raises(IdentifierError, match=f"{name} 'X{{21}}': 21 characters, at most 20"):
        parse_digital_link(f"https://id.gs1.org/{path}{twenty}X")


# ── Digital Link: bad input named ────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "https://id.gs1.org/01/09506000134353/21/ABC123",
            "Digital Link 'https://id.gs1.org/01/09506000134353/21/ABC123': "
            "GTIN 09506000134353: check digit 3 should be 2",
        ),
        ("https://id.gs1.org/00/106141412345678900", "SSCC 106141412345678900: check digit 0"),
        ("https://id.gs1.org/414/9506000134308", "GLN 9506000134308: check digit 8 should be 7"),
        (
            f"https://id.gs1.org/01/{GTIN}/21/S/10/L",
            "must come once each as 22, 10, 21; got 21, 10",
        ),
        (f"https://id.gs1.org/01/{GTIN}/21/S/21/T", "got 21, 21"),
        ("https://id.gs1.org/00/106141412345678908/21/x", "AI 21 is not a key qualifier of SSCC"),
        (f"https://id.gs1.org/01/{GTIN}/17/201231", "AI 17 is not a key qualifier of GTIN"),
        (f"https://id.gs1.org/01/{GTIN}/21/", "serial (AI 21) is empty"),
        ("https://id.gs1.org/01/123456789", "GTIN '123456789': expected 8 or 12 or 13 or 14"),
        ("https://id.gs1.org/00/10614141234567890", "SSCC '10614141234567890': expected 18"),
        ("https://example.com/products/42", "no GS1 primary key"),
        ("https://example.com", "no GS1 primary key"),
        (f"ftp://example.com/01/{GTIN}", "not an http(s) URI"),
        (f"https:///01/{GTIN}", "not an http(s) URI"),
        (f"https://id.gs1.org//01/{GTIN}", "Digital Link base 'https://id.gs1.org/'"),
    ],
)
def test_bad_digital_links_say_what_and_where(uri: str, message: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        parse_digital_link(uri)
    assert str(caught.value).startswith(f"Digital Link {uri!r}: ")
    assert message in str(caught.value)


def test_constructed_digital_link_is_validated() -> None:
    with pytest.raises(IdentifierError, match="GTIN '9506000134352': expected 14 digits"):
        DigitalLink("01", "9506000134352")  # a GTIN-13 must be normalised first
    with pytest.raises(IdentifierError, match="not a supported Digital Link primary key"):
        DigitalLink("21", "ABC")
    with pytest.raises(IdentifierError, match="Digital Link base"):
        DigitalLink("01", GTIN, base="https://example.com/")
    assert DigitalLink("01", normalise_gtin("9506000134352")).key == GTIN


# ── EPC URNs ──────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("uri", "kind", "scheme", "parts"),
    [
        ("urn:epc:id:sgtin:0614141.107346.2017", "id", "sgtin", ("0614141", "107346", "2017")),
        (
            "urn:epc:class:lgtin:4012345.012345.9988",
            "class",
            "lgtin",
            ("4012345", "012345", "9988"),
        ),
        ("urn:epc:id:sscc:0614141.1234567890", "id", "sscc", ("0614141", "1234567890")),
        ("urn:epc:id:sgln:0614141.12345.0", "id", "sgln", ("0614141", "12345", "0")),
        ("urn:epc:id:sgln:0012345.11111.400", "id", "sgln", ("0012345", "11111", "400")),
        ("urn:epc:id:pgln:0614141.00777", "id", "pgln", ("0614141", "00777")),
        ("urn:epc:id:grai:4012345.55555.987", "id", "grai", ("4012345", "55555", "987")),
        ("urn:epc:id:gdti:0614141.00001.1618034", "id", "gdti", ("0614141", "00001", "1618034")),
        ("urn:epc:id:giai:735005385.vehicle1", "id", "giai", ("735005385", "vehicle1")),
        ("urn:epc:id:gsrn:95252084.000000001", "id", "gsrn", ("95252084", "000000001")),
        ("urn:epc:idpat:sgtin:0614141.107346.*", "idpat", "sgtin", ("0614141", "107346", "*")),
        ("urn:epc:idpat:sgtin:0614141.*.*", "idpat", "sgtin", ("0614141", "*", "*")),
        ("urn:epc:idpat:sscc:*.*", "idpat", "sscc", ("*", "*")),
    ],
)
def test_urns_parse_into_components_and_back(
    uri: str, kind: str, scheme: str, parts: tuple[str, ...]
) -> None:
    urn = parse_urn(uri)
    assert (urn.kind, urn.scheme, urn.components) == (kind, scheme, parts)
    assert urn.uri == uri


def test_urn_serial_escapes_decoded_and_re_escaped_canonically() -> None:
    urn = parse_urn("urn:epc:id:sgtin:0614141.107346.A%2fB%22.C")
    assert urn.text == 'A/B".C'  # a dot inside the serial is literal: the serial is last
    assert urn.uri == "urn:epc:id:sgtin:0614141.107346.A%2FB%22.C"
    giai = EpcUrn("id", "giai", "4012345", "BOX/7")
    assert giai.uri == "urn:epc:id:giai:4012345.BOX%2F7"


def test_star_is_a_literal_serial_in_an_id_urn() -> None:
    assert parse_urn("urn:epc:id:sgtin:0614141.107346.*").text == "*"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("urn:epc:id:sgtin:0614141.10734.2017", "prefix 0614141 + reference '10734' must be 13"),
        ("urn:epc:id:sgtin:06141.41107346.1", "company prefix '06141': must be 6 to 12 digits"),
        ("urn:epc:id:sscc:0614141.123456789X", "must be 17 digits"),
        ("urn:epc:id:sgtin:0614141.107346.a/b", "serial 'a/b': character '/' at position 1 must"),
        ("urn:epc:id:sgtin:0614141.107346.a<b", "character '<' at position 1 must be %3C"),
        ("urn:epc:id:sgtin:0614141.107346.a b", "character ' ' at position 1 must be %20"),
        ("urn:epc:id:sgtin:0614141.107346.%41", "bad escape '%41' at position 0"),
        ("urn:epc:id:sgtin:0614141.107346." + "x" * 21, "21 characters, at most 20 allowed"),
        ("urn:epc:id:grai:4012345.55555." + "9" * 17, "17 characters, at most 16 allowed"),
        ("urn:epc:id:sgtin:0614141.107346.", "serial is empty"),
        ("urn:epc:id:sgtin:0614141.107346", "sgtin needs 3 dot-separated components"),
        ("urn:epc:id:giai:4000001." + "A" * 24, "asset reference"),
        ("urn:epc:id:foo:1.2", "urn:epc:id:foo is not supported"),
        ("urn:epc:class:sgtin:0614141.107346.1", "urn:epc:class:sgtin is not supported"),
        ("urn:epc:idpat:sgtin:0614141.*.2017", "'*' may only replace trailing components"),
        ("urn:epc:idpat:sgtin:*.107346.*", "'*' may only replace trailing components"),
        ("urn:epc:id:SGTIN:0614141.107346.1", "not an EPC URN"),
        ("https://id.gs1.org/01/09506000134352", "not an EPC URN"),
    ],
)
def test_bad_urns_say_what_and_where(uri: str, message: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        parse_urn(uri)
    assert str(caught.value).startswith(f"EPC URN {uri!r}: ")
    assert message in str(caught.value)


# ── Conversions ──────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("urn", "uri"),
    [
        # GS1's EPCIS author's translator README: the same SGTIN both ways
        ("urn:epc:id:sgtin:4012345.011111.987", "https://id.gs1.org/01/04012345111118/21/987"),
        # indicator 1 moves to the front: 1+0614141+07346 -> 1061414107346, check digit 4
        ("urn:epc:id:sgtin:0614141.107346.2017", "https://id.gs1.org/01/10614141073464/21/2017"),
        # extension digit 1 moves to the front; SSCC check digit 8 worked out above
        ("urn:epc:id:sscc:0614141.1234567890", "https://id.gs1.org/00/106141412345678908"),
        # extension 0 means "no extension"
        ("urn:epc:id:sgln:0614141.12345.0", "https://id.gs1.org/414/0614141123452"),
        # 001234511111: 1,1,1,1,1,5,4,3,2,1,0,0 x 3,1… = 3+1+3+1+3+5+12+3+6+1 = 38 -> 2
        ("urn:epc:id:sgln:0012345.11111.400", "https://id.gs1.org/414/0012345111112/254/400"),
        (
            "urn:epc:class:lgtin:4012345.012345.998877",
            "https://id.gs1.org/01/04012345123456/10/998877",
        ),
        ("urn:epc:idpat:sgtin:4012345.098765.*", "https://id.gs1.org/01/04012345987652"),
        ("urn:epc:id:pgln:0614141.00777", "https://id.gs1.org/417/0614141007776"),
        ("urn:epc:id:giai:4000001.111", "https://id.gs1.org/8004/4000001111"),
        # GRAI: "0" + 401234555555 + check digit 4 + serial 987
        ("urn:epc:id:grai:4012345.55555.987", "https://id.gs1.org/8003/04012345555554987"),
        ("urn:epc:id:gdti:0614141.00001.1618034", "https://id.gs1.org/253/06141410000121618034"),
        ("urn:epc:id:gsrn:0614141.0000010253", "https://id.gs1.org/8018/061414100000102534"),
    ],
)
def test_urn_and_digital_link_convert_both_ways(urn: str, uri: str) -> None:
    assert urn_to_digital_link(parse_urn(urn)).uri == uri
    assert digital_link_to_urn(parse_digital_link(uri)).uri == urn


def test_company_prefix_length_decides_the_split() -> None:
    link = parse_digital_link("https://id.gs1.org/01/04012345111118/21/987")
    assert digital_link_to_urn(link).uri == "urn:epc:id:sgtin:4012345.011111.987"
    assert digital_link_to_urn(link, 9).uri == "urn:epc:id:sgtin:401234511.0111.987"
    assert digital_link_to_urn(link, 12).uri == "urn:epc:id:sgtin:401234511111.0.987"
    for bad in (5, 13):
        with pytest.raises(IdentifierError, match=f"company prefix length {bad}: must be 6 to 12"):
            digital_link_to_urn(link, bad)


def test_digital_link_choice_of_epc() -> None:
    both = parse_digital_link(f"https://id.gs1.org/01/{GTIN}/10/L7/21/S9?17=201231")
    assert digital_link_to_urn(both).uri == "urn:epc:id:sgtin:9506000.013435.S9"  # lot dropped
    lot = parse_digital_link(f"https://id.gs1.org/01/{GTIN}/10/L7")
    assert digital_link_to_urn(lot).uri == "urn:epc:class:lgtin:9506000.013435.L7"
    bare_grai = parse_digital_link("https://id.example.com/8003/04012345000771")
    assert digital_link_to_urn(bare_grai).uri == "urn:epc:idpat:grai:4012345.00077.*"


def test_custom_base_kept_when_building() -> None:
    urn = parse_urn("urn:epc:id:sgtin:4012345.011111.987")
    link = urn_to_digital_link(urn, base="https://brand.example.com/p")
    assert link.uri == "https://brand.example.com/p/01/04012345111118/21/987"


@pytest.mark.parametrize(
    "pattern",
    [
        "urn:epc:idpat:sgtin:4012345.*.*",
        "urn:epc:idpat:sgtin:*.*.*",
        "urn:epc:idpat:sgln:4012345.00001.*",  # "any extension" is no Digital Link
        "urn:epc:idpat:sscc:0614141.*",
    ],
)
def test_patterns_without_digital_link_refused(pattern: str) -> None:
    with pytest.raises(IdentifierError, match="only a pattern on the serial alone"):
        urn_to_digital_link(parse_urn(pattern))


def test_giai_shorter_than_company_prefix_refused() -> None:
    link = parse_digital_link("https://id.gs1.org/8004/40001")
    with pytest.raises(IdentifierError, match="does not start with a 7-digit company prefix"):
        digital_link_to_urn(link)


# ── Patterns (EPCIS MATCH_epc) ───────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("pattern", "epc", "expected"),
    [
        ("urn:epc:idpat:sgtin:0614141.107346.*", "urn:epc:id:sgtin:0614141.107346.2017", True),
        ("urn:epc:idpat:sgtin:0614141.107346.*", "urn:epc:id:sgtin:0614141.107340.2017", False),
        ("urn:epc:idpat:sgtin:0614141.*.*", "urn:epc:id:sgtin:0614141.107340.1", True),
        ("urn:epc:idpat:sgtin:0614141.*.*", "urn:epc:id:sgtin:4012345.011111.987", False),
        ("urn:epc:idpat:sgtin:*.*.*", "urn:epc:id:sgtin:4012345.011111.987", True),
        ("urn:epc:idpat:sgtin:*.*.*", "urn:epc:id:sscc:0614141.1234567890", False),
        ("urn:epc:idpat:sscc:0614141.*", "urn:epc:id:sscc:0614141.1234567890", True),
        ("urn:epc:idpat:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2017", True),
        ("urn:epc:idpat:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018", False),
        # components compare decoded: %2f and %2F are the same slash
        ("urn:epc:idpat:sgtin:0614141.107346.A%2FB", "urn:epc:id:sgtin:0614141.107346.A%2fB", True),
        # a class is not an instance: the GTIN pattern does not match an LGTIN
        ("urn:epc:idpat:sgtin:4012345.012345.*", "urn:epc:class:lgtin:4012345.012345.9", False),
        # a pattern only matches EPC URNs
        (
            "urn:epc:idpat:sgtin:4012345.011111.*",
            "https://id.gs1.org/01/04012345111118/21/9",
            False,
        ),
        # anything that is not a pattern matches by string equality (EPCIS 8.2.7.1.1)
        ("urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2017", True),
        ("urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018", False),
        ("https://example.com/obj/1", "https://example.com/obj/1", True),
    ],
)
def test_pattern_matching(pattern: str, epc: str, expected: bool) -> None:
    assert matches(pattern, epc) is expected


def test_malformed_pattern_or_epc_raises() -> None:
    with pytest.raises(IdentifierError, match="'\\*' may only replace trailing components"):
        matches("urn:epc:idpat:sgtin:4012345.*.987", "urn:epc:id:sgtin:4012345.011111.987")
    with pytest.raises(IdentifierError, match="must be 13 digits"):
        matches("urn:epc:idpat:sgtin:4012345.*.*", "urn:epc:id:sgtin:4012345.01111.987")


# ── The EPCIS 2.0 examples ───────────────────────────────────────────────────────────


def _example_identifiers() -> set[str]:
    if not EXAMPLES.is_dir():
        pytest.skip(f"EPCIS examples not found at {EXAMPLES}")
    found: set[str] = set()
    for path in EXAMPLES.rglob("*"):
        if path.is_file():
            found.update(IDENTIFIER.findall(path.read_text(encoding="utf-8", errors="replace")))
    return found


def _parse_any(identifier: str) -> DigitalLink | EpcUrn:
    if identifier.startswith("https://"):
        return parse_digital_link(identifier)
    return parse_urn(identifier)


def test_every_identifier_in_the_epcis_examples_parses() -> None:
    found = _example_identifiers()
    assert len(found) >= 120  # 109 URNs and 13 id.gs1.org links at the time of writing
    assert set(INVALID_IN_EXAMPLES) <= found
    failures = []
    for identifier in sorted(found):
        try:
            parsed = _parse_any(identifier)
        except IdentifierError as exc:
            failures.append((identifier, str(exc)))
            continue
        assert parsed.uri == identifier  # already canonical: parsing changes nothing
    refused = {identifier for identifier, _ in failures}
    assert refused == set(INVALID_IN_EXAMPLES), failures
    for identifier, message in failures:
        assert INVALID_IN_EXAMPLES[identifier] in message


def test_every_example_urn_round_trips_through_its_digital_link() -> None:
    urns = [parse_urn(i) for i in _example_identifiers() if i.startswith("urn:epc:")]
    converted = 0
    for urn in urns:
        if urn.kind == "idpat" and "*" in urn.components[:2]:
            continue  # a pattern on more than the serial has no Digital Link
        back = digital_link_to_urn(urn_to_digital_link(urn), len(urn.company_prefix))
        assert back == urn
        converted += 1
    assert converted == len(urns)  # the examples' patterns are all GTIN classes


@pytest.mark.parametrize(
    ("uri", "urn"),
    [
        # the WithDigitalLinkID examples restate these URN events with Digital Links
        ("https://id.gs1.org/01/04012345987652", "urn:epc:idpat:sgtin:4012345.098765.*"),
        (
            "https://id.gs1.org/01/04012345123456/10/998877",
            "urn:epc:class:lgtin:4012345.012345.998877",
        ),
        ("https://id.gs1.org/01/04012345666663", "urn:epc:idpat:sgtin:4012345.066666.*"),
        ("https://id.gs1.org/01/00614141777778/10/987", "urn:epc:class:lgtin:0614141.077777.987"),
        ("https://id.gs1.org/8004/4000001111", "urn:epc:id:giai:4000001.111"),
    ],
)
def test_example_digital_links_equal_their_urn_twins(uri: str, urn: str) -> None:
    found = _example_identifiers()
    assert {uri, urn} <= found
    assert digital_link_to_urn(parse_digital_link(uri)).uri == urn


@pytest.mark.parametrize(
    ("uri", "ai"),
    [
        # Digital Links on other domains in the examples (not scanned above: other hosts)
        ("https://id.example.com/414/4012345000054", "414"),
        ("https://example.org/253/4012345000054987", "253"),
        ("https://id.example.com/8003/040123450007718765", "8003"),
        ("https://example.org/8004/4000001111-20190402T150000000", "8004"),
    ],
)
def test_example_digital_links_on_other_domains(uri: str, ai: str) -> None:
    link = parse_digital_link(uri)
    assert link.key_ai == ai
    assert link.uri == uri
