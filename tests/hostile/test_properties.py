"""Property tests (hypothesis): what the caller passes and what a file holds can be
anything, and the answer is always either a clean value or a ``MailTlsError``.

- target validation never lets anything option-like, whitespace or non-ASCII through to
  nmap, and raises nothing but ``TargetError`` for a string;
- ``parse_ports`` and ``parse_timeout`` return checked values or raise ``PortsError`` /
  ``OptionError``;
- the XML reader, on arbitrary bytes and on nmap XML cut, spliced or corrupted, raises
  nothing but ``MailTlsError``.

Plus the fixed points of the same contract that need no search: ``Severity`` comparisons
and ``Registry.only``."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mailtls
from mailtls.scan.targets import (
    MAX_TIMEOUT,
    MIN_TIMEOUT,
    parse_ports,
    parse_target,
    parse_targets,
    parse_timeout,
)
from tests.helpers import DATA, HOSTILE_DATA

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Characters that make targets interesting: option dashes, separators nmap reads, brackets,
#: zones, ranges, IDN, whitespace of every kind, NUL.
TARGET_ALPHABET = "-–0123456789abcdefxAF.:[]%/,;* \t\n\r\x0b\x0c\x00\u00a0\u2028üß_"  # noqa: RUF001 - the en dash is one of the characters under test
targets = st.one_of(st.text(), st.text(alphabet=TARGET_ALPHABET, max_size=40))


def assert_safe_for_nmap(value: str) -> None:
    assert value and value.isascii()
    assert not value.startswith("-")
    assert not any(ch.isspace() for ch in value) and "\x00" not in value
    # nmap reads "," and "*" and "-" ranges and "/" prefixes in a target: none may survive
    assert not set(value) & set(",;*/ ")


@SETTINGS
@given(targets)
def test_parse_target_accepts_only_safe_hosts(value):
    try:
        target = parse_target(value)
    except mailtls.TargetError:
        return
    assert_safe_for_nmap(target.value)


@SETTINGS
@given(st.lists(targets, max_size=5))
def test_parse_targets_accepts_only_safe_hosts(values):
    try:
        found = parse_targets(values, limit=300)
    except mailtls.TargetError:
        return
    for target in found:
        assert_safe_for_nmap(target.value)


@SETTINGS
@given(st.one_of(st.integers(), st.floats(), st.binary(), st.none(), st.booleans(), st.lists(st.text())))
def test_parse_target_refuses_non_strings_cleanly(value):
    with pytest.raises(mailtls.TargetError):
        parse_target(value)


ports_items = st.one_of(
    st.integers(), st.integers(-5, 70000), st.floats(), st.text(max_size=5), st.booleans(), st.none()
)


@SETTINGS
@given(st.one_of(st.lists(ports_items, max_size=20), st.text(), st.binary(), st.integers(), st.none(), st.floats()))
def test_parse_ports_returns_clean_ports_or_raises_ports_error(value):
    try:
        ports = parse_ports(value)
    except mailtls.PortsError:
        return
    assert ports == tuple(sorted(set(ports)))
    assert all(type(p) is int and 1 <= p <= 65535 for p in ports)


@SETTINGS
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.text(max_size=5), st.booleans()))
def test_parse_timeout_is_finite_and_bounded_or_raises_option_error(value):
    try:
        seconds = parse_timeout(value, 600.0)
    except mailtls.OptionError:
        return
    assert isinstance(seconds, float) and math.isfinite(seconds) and MIN_TIMEOUT <= seconds <= MAX_TIMEOUT


# --- the XML reader -------------------------------------------------------------

RECORDED = sorted(DATA.glob("lab-*.xml")) + sorted(HOSTILE_DATA.glob("*.xml"))


def read_everything(data: bytes) -> None:
    try:
        report = mailtls.assess_xml(data)
    except mailtls.MailTlsError:
        return
    # whatever was read goes through the outputs too
    mailtls.to_json(report)
    mailtls.to_sarif(report)


@SETTINGS
@given(st.binary(max_size=2000))
def test_reader_on_arbitrary_bytes(data):
    read_everything(data)


NUMERIC_ATTRIBUTE = re.compile(
    rb' (start|starttime|endtime|portid|conf|reason_ttl|time|elapsed|up|down|total)="([^"]*)"'
)


@SETTINGS
@given(st.data())
def test_reader_on_damaged_nmap_xml(data):
    # Given a recorded or crafted nmap file, cut short, with bytes spliced in, or with one
    # attribute value replaced by anything
    source = data.draw(st.sampled_from(RECORDED)).read_bytes()
    damage = data.draw(st.sampled_from(["cut", "splice", "attribute", "number"]))
    at = data.draw(st.integers(0, len(source)))
    if damage == "number":
        # a numeric attribute (times, port numbers, confidence) given a number nmap never writes
        spots = [m.span(2) for m in NUMERIC_ATTRIBUTE.finditer(source)]
        start, end = data.draw(st.sampled_from(spots))
        number = data.draw(st.from_regex(r"\A-?[0-9]{1,25}(\.[0-9]+)?(e[0-9]{1,3})?\Z"))
        source = source[:start] + number.encode() + source[end:]
    elif damage == "cut":
        source = source[:at]
    elif damage == "splice":
        source = source[:at] + data.draw(st.binary(max_size=50)) + source[at:]
    else:
        quote = source.find(b'="', at)
        if quote >= 0:
            end = source.find(b'"', quote + 2)
            text = data.draw(
                st.one_of(
                    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
                    st.from_regex(r"\A-?[0-9]{1,25}(\.[0-9]+)?(e[0-9]{1,3})?\Z"),  # numbers nmap never writes
                )
            )
            value = text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;").encode()
            source = source[: quote + 2] + value + source[end:]
    read_everything(source)


# --- fixed points ---------------------------------------------------------------


def test_severity_compares_with_names_by_rank():
    assert mailtls.Severity.HIGH >= "medium"
    assert mailtls.Severity.LOW < "high" and "high" > mailtls.Severity.LOW
    assert not (mailtls.Severity.HIGH < "MEDIUM")
    with pytest.raises(TypeError):
        mailtls.Severity.HIGH < "x"  # noqa: B015
    with pytest.raises(TypeError):
        mailtls.Severity.HIGH >= 3  # noqa: B015


def test_registry_only_refuses_unknown_ids():
    registry = mailtls.Registry.default(plugins=False)
    with pytest.raises(mailtls.RegistryError, match="NOPE"):
        registry.only("NOPE")
    assert [r.id for r in registry.only("MT101")] == ["MT101"]
