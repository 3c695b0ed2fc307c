"""Write docs/rules.md from the built-in rule registry (run after changing a rule).

    python scripts/rules_doc.py          # rewrite docs/rules.md
    python scripts/rules_doc.py --check  # exit 1 if docs/rules.md is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from mailtls import Registry

TARGET = Path(__file__).resolve().parent.parent / "docs" / "rules.md"
#: What a rule is called for, by the record type it receives (PortRecord: "port").
_APPLIES_TO = {"HostRecord": "host", "DomainRecord": "domain"}


def render(registry: Registry) -> str:
    lines = [
        "# Rule reference",
        "",
        "Generated from the rule registry by `scripts/rules_doc.py`; do not edit by hand.",
        "Rule ids are stable: track them, suppress them, map them to your other scanners.",
        "",
        "| id | title | default severity | CWE | applies to |",
        "|---|---|---|---|---|",
    ]
    rules = sorted(registry, key=lambda r: r.id)
    for item in rules:
        spec = item.spec
        cwe = f"CWE-{spec.cwe}" if spec.cwe else ""
        lines.append(
            f"| [{spec.id}](#{spec.id.lower()}) | {spec.title} | {spec.severity.value} | {cwe} | "
            f"{_APPLIES_TO.get(spec.applies_to.__name__, 'port')} |"
        )
    for item in rules:
        spec = item.spec
        group = f", group *{spec.group}*" if spec.group else ""
        lines += ["", f"## {spec.id}", "", f"**{spec.title}** — default severity *{spec.severity.value}*{group}"]
        lines += ["", spec.description]
        if spec.context:
            lines += ["", f"**Context.** {spec.context}"]
        if spec.remediation:
            lines += ["", f"**Fix.** {spec.remediation}"]
        if spec.cwe:
            lines += ["", f"**CWE.** [CWE-{spec.cwe}](https://cwe.mitre.org/data/definitions/{spec.cwe}.html)"]
        if spec.references:
            lines += ["", "**Same check elsewhere.** " + "; ".join(spec.references)]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render(Registry.default(plugins=False))
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET} is out of date: run python scripts/rules_doc.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
