"""Step 4 of the data flow: how a rule is declared. A rule is its id, title, severity, its
function and its docstring, as bandit's plugins are:

    GROUP = "House rules"  # once per module: the group of every rule declared in it

    @mailtls.rule("ACME001", "IMAP banner names the product", mailtls.Severity.LOW,
                  protocols=[mailtls.Protocol.IMAP])
    def imap_banner(port: mailtls.PortRecord):
        '''The server's banner names its software, which tells an attacker what to try.

        Context:
            What a reader should weigh before acting.

        Fix:
            What to do about it.
        '''
        if port.service.product:
            yield mailtls.Observation(summary=f"banner says {port.service.product}")

The docstring is the rule's user documentation: its text before the sections is the
description, ``Context:`` and ``Fix:`` are read into ``RuleTexts``. What the rule
receives (``PortRecord``, ``HostRecord`` or ``DomainRecord``) is its first parameter's
annotation. ``needs=`` names the records of a port (``Facet``) without which the rule has
nothing to judge: the engine does not call it on a port that lacks one, and passes each to
a parameter of the facet's name (``tls``, ``certificate``, ``capabilities``) if the rule has one.

The decorator attaches one frozen ``Rule`` and registers nothing: a ``Registry`` is built
from an explicit list of modules (``rules/registry.py``).

Today's keyword form, ``@rule(id=..., title=..., severity=..., group=..., context=...,
remediation=..., applies_to=...)``, is still read, so plugins written for it load unchanged;
a text given both in the docstring and as a keyword is refused.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Iterable

import attrs

from .._errors import RegistryError
from ..model.domain import DomainRecord
from ..model.findings import RuleTexts, Severity
from ..model.records import Facet, HostRecord, PortRecord
from ..protocols import Protocol


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _protocols(value: Iterable[Protocol]) -> frozenset[Protocol]:
    return frozenset(value)


def _facets(value: Iterable[Facet]) -> frozenset[Facet]:
    return frozenset(value)


@attrs.frozen
class Observation:
    """What a rule saw. The engine adds everything the rule's declaration already says."""

    #: One sentence about this port or host, e.g. "POP3 on 110 offers no STLS".
    summary: str
    #: The facts behind it, e.g. ("capabilities: USER SASL(PLAIN) TOP",).
    evidence: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    #: For host-level rules: the port the observation is about, if it is about one.
    port: int | None = None
    #: For domain-level rules: the MX host name the observation is about, if it is about one.
    mx: str | None = None


RuleTarget = type[PortRecord] | type[HostRecord] | type[DomainRecord]
#: What a rule may receive, by the name its annotation may carry.
RECORDS: dict[str, RuleTarget] = {cls.__name__: cls for cls in (PortRecord, HostRecord, DomainRecord)}


def as_severity(value: Severity | str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        raise RegistryError(f"unknown severity {value!r}; use one of {[s.value for s in Severity]}") from None


@attrs.frozen
class RuleSpec:
    """A rule's declaration: everything about it but the code."""

    texts: RuleTexts
    severity: Severity = attrs.field(converter=as_severity)
    #: ``PortRecord`` (called once per open port), ``HostRecord`` (once per host) or
    #: ``DomainRecord`` (once per mail domain, by ``assess_domain``).
    applies_to: RuleTarget = PortRecord
    #: For port rules: the protocols whose ports the rule is called for (empty: every port).
    protocols: frozenset[Protocol] = attrs.field(default=frozenset(), converter=_protocols)
    #: For port rules: the records the rule reads; it is not called on a port that lacks one.
    needs: frozenset[Facet] = attrs.field(default=frozenset(), converter=_facets)

    @property
    def id(self) -> str:
        return self.texts.id

    @property
    def receives(self) -> str:
        """What the rule is called for, in a word: "port", "host" or "domain"."""
        return self.applies_to.__name__.removesuffix("Record").lower()


RuleFunction = Callable[..., Iterable[Observation]]


@attrs.frozen
class Rule:
    spec: RuleSpec
    function: RuleFunction = attrs.field(eq=False)
    #: The needed records the function takes as parameters of their names.
    passes: tuple[Facet, ...] = ()

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def texts(self) -> RuleTexts:
        return self.spec.texts


_RULE_ATTRIBUTE = "__mailtls_rule__"
#: A docstring section heading, alone on its line, and the ``RuleTexts`` field it fills.
_SECTIONS = {"Context": "context", "Fix": "remediation"}
_HEADING = re.compile(rf"^({'|'.join(_SECTIONS)}):$")


def rule(
    id: str,
    title: str,
    severity: Severity | str,
    *,
    needs: Iterable[Facet] = (),
    protocols: Iterable[Protocol] = (),
    cwe: int | None = None,
    references: Iterable[str] = (),
    group: str | None = None,
    context: str | None = None,
    remediation: str | None = None,
    applies_to: RuleTarget | None = None,
) -> Callable[[RuleFunction], RuleFunction]:
    """Declare a function as a mailtls rule. Returns the function unchanged but for one attribute.

    ``group`` defaults to the module's ``GROUP``; ``context``, ``remediation`` and
    ``applies_to`` are read from the docstring and the first parameter's annotation (the
    keywords remain for rules written before they were)."""
    if not isinstance(id, str) or not id.strip() or any(c.isspace() for c in id):
        raise RegistryError(f"rule id must be a non-empty string without spaces, got {id!r}")
    level = as_severity(severity)
    if applies_to is not None and applies_to not in RECORDS.values():
        raise RegistryError(f"rule {id}: applies_to must be PortRecord, HostRecord or DomainRecord, got {applies_to!r}")
    needed = frozenset(Facet(f) for f in needs)

    def decorate(function: RuleFunction) -> RuleFunction:
        if not callable(function):
            raise RegistryError(f"rule {id}: @rule decorates a function, got {function!r}")
        description, sections = _read_docstring(id, function.__doc__ or "")
        for field, given in (("context", context), ("remediation", remediation)):
            if given is not None:
                if field in sections:
                    raise RegistryError(f"rule {id}: its {field} is both in the docstring and a keyword: give it once")
                sections[field] = given
        module_group = getattr(function, "__globals__", {}).get("GROUP", "")
        texts = RuleTexts(
            id=id,
            title=title,
            group=group if group is not None else module_group if isinstance(module_group, str) else "",
            cwe=cwe,
            references=tuple(references),
            description=description,
            context=sections.get("context", ""),
            remediation=sections.get("remediation", ""),
        )
        target = _target(id, function, applies_to)
        if needed and target is not PortRecord:
            raise RegistryError(f"rule {id}: needs= names records of a port, and the rule receives a {target.__name__}")
        spec = RuleSpec(texts=texts, severity=level, applies_to=target, protocols=protocols, needs=needed)
        setattr(function, _RULE_ATTRIBUTE, Rule(spec=spec, function=function, passes=_passes(id, function, needed)))
        return function

    return decorate


def _read_docstring(rule_id: str, docstring: str) -> tuple[str, dict[str, str]]:
    """(description, {"context": ..., "remediation": ...}) from a rule's docstring: the text
    before the first section, then each ``Context:``/``Fix:`` section's indented text. Each
    paragraph becomes one line (the docstring is wrapped for the source, not for readers)."""
    parts: dict[str, list[str]] = {"": []}
    current = ""
    for line in inspect.cleandoc(docstring).splitlines():
        heading = _HEADING.match(line.strip()) if not line[:1].isspace() else None
        if heading is None:
            parts[current].append(line)
            continue
        current = _SECTIONS[heading[1]]
        if current in parts:
            raise RegistryError(f"rule {rule_id}: its docstring has two {heading[1]}: sections")
        parts[current] = []
    description = _prose(parts.pop(""))
    return description, {field: _prose(lines) for field, lines in parts.items()}


def _prose(lines: list[str]) -> str:
    paragraphs = re.split(r"\n\s*\n", "\n".join(lines).strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def _target(rule_id: str, function: RuleFunction, declared: RuleTarget | None) -> RuleTarget:
    """What the rule receives: its first parameter's annotation (PortRecord if it has none)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):  # a builtin or a callable without a signature
        return declared or PortRecord
    if not parameters:
        raise RegistryError(f"rule {rule_id}: a rule takes the record it judges as its first parameter")
    first = parameters[0]
    annotation: object = first.annotation
    if isinstance(annotation, str):
        text = annotation
        try:
            annotation = typing.get_type_hints(function).get(first.name, text)
        except Exception:  # noqa: BLE001 - a name only a type checker sees: read the annotation's text
            annotation = RECORDS.get(text.rsplit(".", 1)[-1], text)
    if annotation is inspect.Parameter.empty:
        return declared or PortRecord
    if annotation not in RECORDS.values():
        raise RegistryError(
            f"rule {rule_id}: its first parameter is annotated {annotation!r}; a rule receives "
            "a PortRecord, HostRecord or DomainRecord"
        )
    found = typing.cast(RuleTarget, annotation)
    if declared is not None and declared is not found:
        raise RegistryError(f"rule {rule_id}: applies_to={declared.__name__}, but its parameter is a {found.__name__}")
    return found


def _passes(rule_id: str, function: RuleFunction, needs: frozenset[Facet]) -> tuple[Facet, ...]:
    """The needed records the function takes by name; any other parameter must have a default."""
    try:
        parameters = list(inspect.signature(function).parameters.values())[1:]
    except (TypeError, ValueError):
        return ()
    passed = []
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        facet = next((f for f in Facet if f.value == parameter.name), None)
        if facet is not None and facet in needs:
            passed.append(facet)
        elif facet is not None:
            raise RegistryError(f"rule {rule_id}: it takes {parameter.name}: declare needs=[Facet.{facet.name}]")
        elif parameter.default is inspect.Parameter.empty:
            raise RegistryError(f"rule {rule_id}: its parameter {parameter.name} is no record it needs")
    return tuple(passed)


def declared(obj: object) -> Rule | None:
    """The rule ``@rule`` declared on ``obj``, if any."""
    found = getattr(obj, _RULE_ATTRIBUTE, None)
    return found if isinstance(found, Rule) else None


def rules_in(module: types.ModuleType) -> list[Rule]:
    """Every rule defined in a module, in the order of its source.

    Only rules defined in the module (or, for a package, in its submodules) count: a
    plugin that imports a built-in rule (to wrap it, or by ``from ... import *``) does
    not declare it a second time."""
    found = [
        item
        for obj in vars(module).values()
        if (item := declared(obj)) is not None and _defined_in(obj, module.__name__)
    ]
    return sorted(found, key=lambda r: getattr(getattr(r.function, "__code__", None), "co_firstlineno", 0))


def _defined_in(function: object, module_name: str) -> bool:
    defined = getattr(function, "__module__", None) or ""
    return defined == module_name or defined.startswith(module_name + ".")
