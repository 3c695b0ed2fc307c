"""Step 4 of the data flow: the rules, and the registry that holds them.

A rule is a plain function declared with ``@mailtls.rule(...)``. The decorator
attaches one frozen ``RuleSpec`` and registers nothing: a ``Registry`` is built
from an explicit list of modules (the built-in ones, then every module named in
the ``mailtls.rules`` entry-point group) and holds every rule declared in them.

    @mailtls.rule(id="ACME001", title="IMAP banner names the product", severity=mailtls.Severity.LOW)
    def imap_banner(port: mailtls.PortRecord):
        '''User documentation: what this finds, why it matters.'''
        if port.protocol is mailtls.Protocol.IMAP and port.service.product:
            yield mailtls.Observation(summary=f"banner says {port.service.product}")
"""

from __future__ import annotations

import importlib
import inspect
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib import metadata

import attrs

from .._errors import RuleError
from ..model.domain import DomainRecord
from ..model.findings import Severity
from ..model.records import HostRecord, PortRecord, Problem, Stage
from ..protocols import Protocol

ENTRY_POINT_GROUP = "mailtls.rules"

#: The modules that hold the built-in rules, in the order their rules are listed.
BUILTIN_MODULES = (
    "mailtls.rules.builtin.plaintext",
    "mailtls.rules.builtin.credentials",
    "mailtls.rules.builtin.ports",
    "mailtls.rules.builtin.tls",
    "mailtls.rules.builtin.certificates",
    "mailtls.rules.builtin.smtp",
    "mailtls.rules.builtin.injection",
    "mailtls.rules.builtin.domain",
)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _protocols(value: Iterable[Protocol]) -> frozenset[Protocol]:
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


def _severity(value: Severity | str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        raise RuleError(f"unknown severity {value!r}; use one of {[s.value for s in Severity]}") from None


@attrs.frozen
class RuleSpec:
    """A rule's declaration: everything about it except the code."""

    id: str
    title: str
    severity: Severity = attrs.field(converter=_severity)
    #: The finding group, e.g. "Email without SSL/TLS Found".
    group: str = ""
    #: What a reader should weigh before acting on a finding of this rule.
    context: str = ""
    #: What to do about it.
    remediation: str = ""
    #: CWE number, e.g. 319 for cleartext transmission of sensitive information.
    cwe: int | None = None
    #: Equivalent checks in other tools, e.g. ("Nessus 15855",).
    references: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    #: ``PortRecord`` (called once per open port), ``HostRecord`` (once per host) or
    #: ``DomainRecord`` (once per mail domain, by ``assess_domain``).
    applies_to: RuleTarget = PortRecord
    #: For port rules: the protocols whose ports the rule is called for (empty: every port).
    #: The engine skips the rule on other ports, so it need not check the protocol itself.
    protocols: frozenset[Protocol] = attrs.field(default=frozenset(), converter=_protocols)
    #: The function's docstring: the rule's user documentation.
    description: str = ""


RuleFunction = Callable[..., Iterable[Observation]]


@attrs.frozen
class Rule:
    spec: RuleSpec
    function: RuleFunction = attrs.field(eq=False)

    @property
    def id(self) -> str:
        return self.spec.id


_SPEC_ATTRIBUTE = "__mailtls_rule__"


def rule(
    *,
    id: str,
    title: str,
    severity: Severity | str,
    group: str = "",
    context: str = "",
    remediation: str = "",
    cwe: int | None = None,
    references: Iterable[str] = (),
    applies_to: RuleTarget = PortRecord,
    protocols: Iterable[Protocol] = (),
) -> Callable[[RuleFunction], RuleFunction]:
    """Declare a function as a mailtls rule. Returns the function unchanged but for one attribute."""
    if not isinstance(id, str) or not id.strip() or any(c.isspace() for c in id):
        raise RuleError(f"rule id must be a non-empty string without spaces, got {id!r}")
    if applies_to not in (PortRecord, HostRecord, DomainRecord):
        raise RuleError(f"rule {id}: applies_to must be PortRecord, HostRecord or DomainRecord, got {applies_to!r}")

    def decorate(function: RuleFunction) -> RuleFunction:
        if not callable(function):
            raise RuleError(f"rule {id}: @rule decorates a function, got {function!r}")
        spec = RuleSpec(
            id=id,
            title=title,
            severity=severity,
            group=group,
            context=context,
            remediation=remediation,
            cwe=cwe,
            references=tuple(references),
            applies_to=applies_to,
            protocols=frozenset(protocols),
            description=inspect.cleandoc(function.__doc__ or ""),
        )
        setattr(function, _SPEC_ATTRIBUTE, Rule(spec=spec, function=function))
        return function

    return decorate


def rules_in(module: types.ModuleType) -> list[Rule]:
    """Every rule defined in a module, in the order of its source.

    Only rules defined in the module (or, for a package, in its submodules) count: a
    plugin that imports a built-in rule (to wrap it, or by ``from ... import *``) does
    not declare it a second time."""
    found = [
        getattr(obj, _SPEC_ATTRIBUTE)
        for obj in vars(module).values()
        if hasattr(obj, _SPEC_ATTRIBUTE) and _defined_in(obj, module.__name__)
    ]
    return sorted(
        found, key=lambda r: (getattr(r.function, "__code__", None) and r.function.__code__.co_firstlineno) or 0
    )


class Registry:
    """An immutable set of rules, keyed by id, with per-rule severity overrides.

    ``Registry.default()`` holds the built-in rules and those of installed plugins.
    A plugin that fails to load is kept in ``problems`` (and so in every report made
    with this registry); the rest of the rules still run.
    """

    def __init__(
        self,
        rules: Iterable[Rule] = (),
        *,
        severity: Mapping[str, Severity | str] | None = None,
        problems: Iterable[Problem] = (),
    ) -> None:
        self._rules: dict[str, Rule] = {}
        for item in rules:
            if item.id in self._rules:
                raise RuleError(
                    f"two rules share the id {item.id!r}: "
                    f"{_where(self._rules[item.id])} and {_where(item)}"
                )
            self._rules[item.id] = item
        self._severity = {key: _severity(value) for key, value in (severity or {}).items()}
        unknown = set(self._severity) - set(self._rules)
        if unknown:
            raise RuleError(f"severity override for unknown rule(s): {', '.join(sorted(unknown))}")
        self.problems: tuple[Problem, ...] = tuple(problems)
        # Dispatch tables, built once: the engine calls a port rule only for the
        # protocols it declared, and host rules once per host.
        self._host_rules = tuple(r for r in self._rules.values() if r.spec.applies_to is HostRecord)
        self._domain_rules = tuple(r for r in self._rules.values() if r.spec.applies_to is DomainRecord)
        port_rules = [r for r in self._rules.values() if r.spec.applies_to is PortRecord]
        self._port_rules = {
            protocol: tuple(r for r in port_rules if not r.spec.protocols or protocol in r.spec.protocols)
            for protocol in Protocol
        }

    @property
    def host_rules(self) -> tuple[Rule, ...]:
        return self._host_rules

    @property
    def domain_rules(self) -> tuple[Rule, ...]:
        """The rules called once per mail domain (``applies_to=DomainRecord``)."""
        return self._domain_rules

    def port_rules(self, protocol: Protocol) -> tuple[Rule, ...]:
        """The port rules to call for a port of this protocol."""
        return self._port_rules[protocol]

    @classmethod
    def from_modules(cls, modules: Iterable[str | types.ModuleType]) -> Registry:
        """A registry of every rule declared in these modules (names or module objects)."""
        rules: list[Rule] = []
        for module in modules:
            rules.extend(rules_in(_import(module) if isinstance(module, str) else module))
        return cls(rules)

    @classmethod
    def default(cls, *, plugins: bool = True) -> Registry:
        """The built-in rules, plus those of every module in the ``mailtls.rules`` entry-point group."""
        rules: list[Rule] = []
        for name in BUILTIN_MODULES:
            rules.extend(rules_in(_import(name)))
        problems: list[Problem] = []
        if plugins:
            taken = {r.id: r for r in rules}
            for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
                where = f"rule plugin {entry_point.name!r} ({entry_point.value})"
                try:
                    module = entry_point.load()
                    if not isinstance(module, types.ModuleType):
                        raise RuleError(f"entry point names {module!r}, not a module")
                    found = rules_in(module)
                except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the scan
                    problems.append(Problem(stage=Stage.PLUGIN, message=f"{where} failed to load: {exc!r}"))
                    continue
                for item in found:
                    # One plugin reusing an id must not break every scan: its rule is left out.
                    if item.id in taken:
                        problems.append(
                            Problem(
                                stage=Stage.PLUGIN,
                                rule_id=item.id,
                                message=f"{where}: rule {item.id} ({_where(item)}) was left out, "
                                f"its id is already taken by {_where(taken[item.id])}",
                            )
                        )
                        continue
                    taken[item.id] = item
                    rules.append(item)
        return cls(rules, problems=problems)

    def without(self, *rule_ids: str) -> Registry:
        """A copy with these rules disabled."""
        unknown = set(rule_ids) - set(self._rules)
        if unknown:
            raise RuleError(f"cannot disable unknown rule(s): {', '.join(sorted(unknown))}")
        return Registry(
            (r for r in self if r.id not in rule_ids),
            severity={k: v for k, v in self._severity.items() if k not in rule_ids},
            problems=self.problems,
        )

    def only(self, *rule_ids: str) -> Registry:
        """A copy holding only these rules."""
        unknown = set(rule_ids) - set(self._rules)
        if unknown:
            raise RuleError(f"cannot keep unknown rule(s): {', '.join(sorted(unknown))}")
        return self.without(*(r.id for r in self if r.id not in rule_ids))

    def with_severity(self, overrides: Mapping[str, Severity | str]) -> Registry:
        """A copy with these rules' severities changed, e.g. ``{"MT103": "low"}``."""
        return Registry(self, severity={**self._severity, **overrides}, problems=self.problems)

    def severity_of(self, rule_id: str) -> Severity:
        return self._severity.get(rule_id, self._rules[rule_id].spec.severity)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def __getitem__(self, rule_id: str) -> Rule:
        try:
            return self._rules[rule_id]
        except KeyError:
            raise RuleError(f"no rule with id {rule_id!r}") from None

    def __repr__(self) -> str:
        return f"<Registry of {len(self)} rules: {', '.join(self._rules)}>"


def _defined_in(function: object, module_name: str) -> bool:
    defined = getattr(function, "__module__", None) or ""
    return defined == module_name or defined.startswith(module_name + ".")


def _import(name: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise RuleError(f"cannot import rule module {name!r}: {exc}") from exc


def _where(item: Rule) -> str:
    function = item.function
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', '?')}"
