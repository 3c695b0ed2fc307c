"""``mailtls rules`` and ``mailtls explain``: the rule catalogue, from each rule's ``RuleTexts``."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._errors import MailTlsError
from ..model.findings import Severity
from ..output.table import STYLE
from ..rules.registry import Registry


def _catalogue() -> list[dict[str, Any]]:
    registry = Registry.default()
    return [
        {
            "id": item.id,
            "title": item.texts.title,
            "severity": registry.severity_of(item.id).value,
            "group": item.texts.group,
            "cwe": item.texts.cwe,
            "applies_to": item.spec.receives,
            "references": list(item.texts.references),
            "description": item.texts.description,
            "context": item.texts.context,
            "remediation": item.texts.remediation,
        }
        for item in sorted(registry, key=lambda r: r.id)
    ]


def list_rules(fmt: str) -> None:
    rules = _catalogue()
    if fmt == "json":
        print(json.dumps(rules, indent=2))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        columns = ["id", "severity", "title", "group", "cwe", "applies_to"]
        writer.writerow(columns)
        writer.writerows([[r[c] if r[c] is not None else "" for c in columns] for r in rules])
    elif fmt == "markdown":
        print("| id | severity | title | CWE |\n|---|---|---|---|")
        for r in rules:
            print(f"| {r['id']} | {r['severity']} | {r['title']} | {'CWE-' + str(r['cwe']) if r['cwe'] else ''} |")
    else:
        table = Table(title=f"mailtls rules ({len(rules)}): mailtls explain RULE for the whole text")
        for heading in ("id", "severity", "title", "group", "CWE"):
            table.add_column(heading)
        for r in rules:
            severity = Severity(r["severity"])
            table.add_row(
                r["id"],
                Text(severity.value, style=STYLE[severity]),
                r["title"],
                r["group"],
                f"CWE-{r['cwe']}" if r["cwe"] else "",
            )
        Console().print(table)


def explain_rule(rule_id: str) -> None:
    registry = Registry.default()
    wanted = rule_id.strip().upper()
    if wanted not in registry:
        raise MailTlsError(f"no rule {rule_id!r}: `mailtls rules` lists them")
    item = registry[wanted]
    texts = item.texts
    severity = registry.severity_of(wanted)
    console = Console()
    title = Text.assemble((f"{texts.id} ", "bold"), (texts.title, "bold"), "  ", (severity.value, STYLE[severity]))
    console.print(title)
    receives = {"port": "each port", "host": "the whole host", "domain": "the mail domain"}
    facts = [
        f"group: {texts.group}" if texts.group else "",
        f"CWE-{texts.cwe}" if texts.cwe else "",
        "applies to: " + receives[item.spec.receives],
    ]
    console.print(" · ".join(f for f in facts if f), style="dim")
    for heading, text in (("", texts.description), ("Context", texts.context), ("Fix", texts.remediation)):
        if text:
            console.print()
            if heading:
                console.print(heading, style="bold")
            # Docstrings are wrapped at 90 columns: let the terminal wrap paragraphs instead.
            paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
            console.print("\n\n".join(paragraphs), highlight=False)
    if texts.references:
        console.print()
        console.print("Same check elsewhere: " + ", ".join(texts.references), highlight=False)
