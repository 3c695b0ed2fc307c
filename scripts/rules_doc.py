"""Write docs/rules.md from the built-in rule registry (run after changing a rule).

    python scripts/rules_doc.py          # rewrite docs/rules.md
    python scripts/rules_doc.py --check  # exit 1 if docs/rules.md is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from mailtls import Registry

TARGET = Path(__file__).resolve().parent.parent / "docs" / "rules.md"


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
        texts, severity = item.texts, item.spec.severity.value
        cwe = f"CWE-{texts.cwe}" if texts.cwe else ""
        lines.append(
            f"| [{texts.id}](#{texts.id.lower()}) | {texts.title} | {severity} | {cwe} | "
            f"{item.spec.receives} |"
        )
    for item in rules:
        texts, severity = item.texts, item.spec.severity.value
        group = f", group *{texts.group}*" if texts.group else ""
        lines += ["", f"## {texts.id}", "", f"**{texts.title}** — default severity *{severity}*{group}"]
        lines += ["", texts.description]
        if texts.context:
            lines += ["", f"**Context.** {texts.context}"]
        if texts.remediation:
            lines += ["", f"**Fix.** {texts.remediation}"]
        if texts.cwe:
            lines += ["", f"**CWE.** [CWE-{texts.cwe}](https://cwe.mitre.org/data/definitions/{texts.cwe}.html)"]
        if texts.references:
            lines += ["", "**Same check elsewhere.** " + "; ".join(texts.references)]
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
