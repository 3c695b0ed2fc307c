"""The rule registry and the engine: declarations, overrides, and failures kept as data."""

import types

import attrs
import pytest

import mailtls
from mailtls import HostRecord, Observation, PortRecord, PortState, Protocol, Registry, Severity, Stage
from tests.helpers import ROOT

PORT = PortRecord(address="192.0.2.9", number=110, state=PortState.OPEN, protocol=Protocol.POP3)
SCAN = mailtls.ScanRecord(hosts=(HostRecord(address="192.0.2.9", status="up", ports=(PORT,)),))


def module_with(*functions):
    # A module that defines these rules (a module only contributes the rules it defines).
    module = types.ModuleType(functions[0].__module__)
    for function in functions:
        setattr(module, function.__name__, function)
    return module


@mailtls.rule(id="T001", title="always", severity="low", cwe=200, references=["Example 1"])
def always(port):
    """Fires on every open port."""
    yield Observation(summary=f"port {port.number}", evidence=["seen"])


@mailtls.rule(id="T002", title="broken", severity=Severity.HIGH)
def broken(port):
    raise RuntimeError("rule bug")


@mailtls.rule(id="T003", title="host", severity=Severity.INFO, applies_to=HostRecord)
def per_host(host):
    yield Observation(summary=f"{len(host.ports)} ports", port=110)


def test_severity_is_ordered():
    assert Severity.INFO < Severity.LOW < Severity.MEDIUM < Severity.HIGH < Severity.CRITICAL
    assert max([Severity.LOW, Severity.CRITICAL, Severity.MEDIUM]) is Severity.CRITICAL
    assert sorted(Severity) == list(Severity)


def test_engine_builds_findings_from_the_declaration():
    registry = Registry.from_modules([module_with(always, per_host)])
    from mailtls.rules.engine import evaluate

    report = evaluate(SCAN, registry)
    by_id = {f.rule_id: f for f in report.findings}
    assert by_id["T001"].severity is Severity.LOW and by_id["T001"].cwe == 200
    assert by_id["T001"].references == ("Example 1",) and by_id["T001"].evidence == ("seen",)
    assert by_id["T001"].protocol is Protocol.POP3 and by_id["T001"].port == 110
    assert by_id["T003"].port == 110 and by_id["T003"].summary == "1 ports"
    assert [f.rule_id for f in report.findings] == ["T001", "T003"]  # worst first


def test_a_rule_that_raises_is_recorded_and_others_still_run():
    from mailtls.rules.engine import evaluate

    registry = Registry.from_modules([module_with(broken, always)])
    report = evaluate(SCAN, registry)
    assert [f.rule_id for f in report.findings] == ["T001"]
    (problem,) = report.all_problems
    assert problem.stage is Stage.RULE and problem.rule_id == "T002" and problem.port == 110
    assert "rule bug" in problem.message and "RuntimeError" in problem.detail
    with pytest.raises(RuntimeError):
        evaluate(SCAN, registry, strict=True)


def test_a_rule_yielding_the_wrong_type_is_recorded():
    @mailtls.rule(id="T004", title="wrong", severity="low")
    def wrong(port):
        yield "not an observation"

    from mailtls.rules.engine import evaluate

    report = evaluate(SCAN, Registry.from_modules([module_with(wrong)]))
    assert report.findings == () and "not mailtls.Observation" in report.all_problems[0].message


def test_disable_and_override():
    registry = Registry.from_modules([module_with(always, broken)])
    assert "T002" not in registry.without("T002") and len(registry.only("T001")) == 1
    changed = registry.with_severity({"T001": "critical"})
    assert changed.severity_of("T001") is Severity.CRITICAL and registry.severity_of("T001") is Severity.LOW
    with pytest.raises(mailtls.RegistryError, match="unknown rule"):
        registry.with_severity({"NOPE": "low"})
    with pytest.raises(mailtls.RegistryError, match="unknown severity"):
        registry.with_severity({"T001": "urgent"})
    with pytest.raises(mailtls.RegistryError, match="unknown rule"):
        registry.without("NOPE")


def test_duplicate_ids_are_refused():
    with pytest.raises(mailtls.RegistryError, match="share the id 'T001'"):
        Registry.from_modules([module_with(always), module_with(always)])


def test_bad_declarations_are_refused():
    with pytest.raises(mailtls.RegistryError):
        mailtls.rule(id="has space", title="x", severity="low")
    with pytest.raises(mailtls.RegistryError):
        mailtls.rule(id="X", title="x", severity="low", applies_to=str)
    with pytest.raises(mailtls.RegistryError):
        mailtls.rule(id="X", title="x", severity="whatever")(lambda port: ())


def test_declaring_registers_nothing_globally():
    # Importing a module full of @rule functions must not change the default registry.
    assert "T001" not in Registry.default()


def test_default_registry_holds_the_builtin_rules_with_docs():
    registry = Registry.default()
    for rule_id in ("MT101", "MT102", "MT103", "MT104", "MT111", "MT112", "MT113"):
        texts = registry[rule_id].texts
        assert texts.description and texts.context and texts.remediation and texts.cwe
    assert registry["MT101"].texts.group == "Email without SSL/TLS Found"
    assert registry["MT113"].texts.group == "Cleartext credentials"
    with pytest.raises(mailtls.RegistryError):
        registry["MT999"]


def test_rules_doc_is_up_to_date():
    import subprocess
    import sys

    script = ROOT / "scripts" / "rules_doc.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- the declaration: id, title, severity, the function and its docstring ----------------

GROUP = "Declared once for the module"


@mailtls.rule("T010", "documented", "medium", needs=[mailtls.Facet.CAPABILITIES], cwe=319)
def documented(port: PortRecord, capabilities: mailtls.Capabilities):
    """What the rule finds, wrapped for
    the source.

    Context:
        What to weigh,
        on two lines.

        A second paragraph.

    Fix:
        What to do.
    """
    yield Observation(summary=f"{capabilities.script} on {port.number}")


@mailtls.rule("T011", "of a host", "info")
def of_a_host(host: HostRecord):
    """A host rule, from its annotation."""
    yield Observation(summary="host")


def test_a_docstring_gives_the_description_context_and_fix():
    texts = Registry.from_modules([module_with(documented)])["T010"].texts
    assert texts.description == "What the rule finds, wrapped for the source."
    assert texts.context == "What to weigh, on two lines.\n\nA second paragraph."
    assert texts.remediation == "What to do."
    assert (texts.group, texts.cwe, texts.title) == (GROUP, 319, "documented")


def test_the_first_parameter_says_what_a_rule_receives():
    registry = Registry.from_modules([module_with(documented, of_a_host)])
    assert registry["T010"].spec.applies_to is PortRecord
    assert registry["T011"].spec.applies_to is HostRecord and registry.host_rules == (registry["T011"],)


def _annotated_with_str(port: str):
    return ()


def test_a_rule_annotated_with_something_else_is_refused():
    with pytest.raises(mailtls.RegistryError, match="annotated"):
        mailtls.rule("X", "x", "low")(_annotated_with_str)


def test_the_engine_skips_ports_without_what_a_rule_needs():
    # Given a POP3 port whose capabilities were read, and one where nothing answered
    read = attrs.evolve(PORT, capabilities=mailtls.Capabilities(script="pop3-capabilities"))
    silent = attrs.evolve(PORT, number=1110)
    scan = mailtls.ScanRecord(hosts=(HostRecord(address="192.0.2.9", status="up", ports=(read, silent)),))
    from mailtls.rules.engine import evaluate

    # Then the rule is called only where they are, and receives them
    report = evaluate(scan, Registry.from_modules([module_with(documented)]))
    assert [f.summary for f in report.findings] == ["pop3-capabilities on 110"]


def test_a_parameter_for_a_record_not_declared_as_needed_is_refused():
    with pytest.raises(mailtls.RegistryError, match="needs="):

        @mailtls.rule("X", "x", "low")
        def reads_tls(port: PortRecord, tls: mailtls.TlsProfile):
            return ()


def test_a_text_given_twice_is_refused():
    with pytest.raises(mailtls.RegistryError, match="give it once"):

        @mailtls.rule("X", "x", "low", context="here")
        def twice(port: PortRecord):
            """Description.

            Context:
                And here.
            """
            return ()


def test_the_keyword_form_of_earlier_plugins_still_loads():
    @mailtls.rule(
        id="T012", title="old form", severity="low", group="G", context="C", remediation="R", applies_to=HostRecord
    )
    def old_form(host):
        """Only a description."""
        yield Observation(summary="x")

    texts = Registry.from_modules([module_with(old_form)])["T012"].texts
    assert (texts.group, texts.context, texts.remediation, texts.description) == ("G", "C", "R", "Only a description.")
    assert Registry.from_modules([module_with(old_form)])["T012"].spec.applies_to is HostRecord
