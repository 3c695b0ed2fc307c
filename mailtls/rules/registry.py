"""Step 4 of the data flow: the registry of rules, built from an explicit list of modules.

A ``Registry`` holds the rules declared (``rules/declare.py``) in the modules it is built
from: the built-in ones, then every module named in the ``mailtls.rules`` entry-point
group. Importing a module of rules registers nothing by itself.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Iterable, Iterator, Mapping
from importlib import metadata

from .._errors import RegistryError
from ..model.domain import DomainRecord
from ..model.findings import Severity
from ..model.records import HostRecord, PortRecord, Problem, Stage
from ..protocols import Protocol
from .declare import Rule, as_severity, rules_in

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
                raise RegistryError(
                    f"two rules share the id {item.id!r}: "
                    f"{_where(self._rules[item.id])} and {_where(item)}"
                )
            self._rules[item.id] = item
        self._severity = {key: as_severity(value) for key, value in (severity or {}).items()}
        unknown = set(self._severity) - set(self._rules)
        if unknown:
            raise RegistryError(f"severity override for unknown rule(s): {', '.join(sorted(unknown))}")
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
        """The rules called once per mail domain (those that receive a ``DomainRecord``)."""
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
                        raise RegistryError(f"entry point names {module!r}, not a module")
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
            raise RegistryError(f"cannot disable unknown rule(s): {', '.join(sorted(unknown))}")
        return Registry(
            (r for r in self if r.id not in rule_ids),
            severity={k: v for k, v in self._severity.items() if k not in rule_ids},
            problems=self.problems,
        )

    def only(self, *rule_ids: str) -> Registry:
        """A copy holding only these rules."""
        unknown = set(rule_ids) - set(self._rules)
        if unknown:
            raise RegistryError(f"cannot keep unknown rule(s): {', '.join(sorted(unknown))}")
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
            raise RegistryError(f"no rule with id {rule_id!r}") from None

    def __repr__(self) -> str:
        return f"<Registry of {len(self)} rules: {', '.join(self._rules)}>"


def _import(name: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise RegistryError(f"cannot import rule module {name!r}: {exc}") from exc


def _where(item: Rule) -> str:
    function = item.function
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', '?')}"
