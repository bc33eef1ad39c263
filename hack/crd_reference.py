"""Generate the field table of docs/crd-reference.md from the CRD's OpenAPI schema.

The table between the GENERATED markers is rewritten from ``crds/dbmigrate.io_databasemigrations.yaml``; the prose
around it is kept. ``tests/packaging/test_crd_reference.py`` fails when the committed table is stale.

    .venv/bin/python hack/crd_reference.py          # rewrite the table
    .venv/bin/python hack/crd_reference.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CRD = REPO / "crds" / "dbmigrate.io_databasemigrations.yaml"
DOC = REPO / "docs" / "crd-reference.md"
BEGIN = "<!-- BEGIN GENERATED: fields from the CRD schema (hack/crd_reference.py) -->"
END = "<!-- END GENERATED -->"


def _rows(schema: dict[str, Any], path: str, required: set[str]) -> Iterator[str]:
    for name, prop in schema.get("properties", {}).items():
        field = f"{path}.{name}" if path else name
        yield _row(field, prop, required=name in required)
        if prop.get("type") == "object" and "properties" in prop:
            yield from _rows(prop, field, set(prop.get("required", [])))
        items = prop.get("items", {})
        if prop.get("type") == "array" and "properties" in items:
            yield from _rows(items, f"{field}[]", set(items.get("required", [])))


def _row(field: str, prop: dict[str, Any], *, required: bool) -> str:
    kind = prop.get("type", "any")
    if prop.get("x-kubernetes-int-or-string"):
        kind = "int or string"
    if kind == "array":
        kind = f"array of {prop.get('items', {}).get('type', 'any')}"
    limits = []
    if "enum" in prop:
        limits.append(" \\| ".join(f"`{value}`" for value in prop["enum"]))
    if "pattern" in prop:
        limits.append(f"pattern `{prop['pattern']}`")
    for key, label in (("minimum", "≥"), ("maximum", "≤"), ("minLength", "length ≥"), ("maxLength", "length ≤")):
        if key in prop:
            limits.append(f"{label} {prop[key]}")
    default = f"`{_compact(prop['default'])}`" if "default" in prop else ""
    description = " ".join(str(prop.get("description", "")).split()).replace("|", "\\|")
    return f"| `{field}` | {kind} | {'yes' if required else ''} | {default} | {'; '.join(limits)} | {description} |"


def _compact(value: object) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def render(crd: dict[str, Any]) -> str:
    """The generated block (markers included) for the CRD's served version."""
    version = next(v for v in crd["spec"]["versions"] if v.get("storage", True))
    root = version["schema"]["openAPIV3Schema"]
    lines = [
        BEGIN,
        f"### All fields of `{crd['spec']['group']}/{version['name']}` (spec and status)",
        "",
        "| Field | Type | Required | Default | Allowed | Description |",
        "|---|---|---|---|---|---|",
    ]
    for top in ("spec", "status"):
        prop = root["properties"][top]
        lines.append(_row(top, prop, required=top in root.get("required", [])))
        lines.extend(_rows(prop, top, set(prop.get("required", []))))
    lines.append(END)
    return "\n".join(lines)


def updated(doc: str, block: str) -> str:
    """``doc`` with its generated block replaced (or appended when it has none yet)."""
    if BEGIN in doc and END in doc:
        head, _, rest = doc.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return f"{head}{block}{tail}"
    return f"{doc.rstrip()}\n\n{block}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the doc is stale, change nothing")
    args = parser.parse_args()
    current = DOC.read_text()
    wanted = updated(current, render(yaml.safe_load(CRD.read_text())))
    if args.check:
        if wanted != current:
            print(f"{DOC} is stale: run .venv/bin/python hack/crd_reference.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
