"""docs/crd-reference.md carries a field table generated from the CRD; it must match the CRD as committed."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType

import yaml

REPO = Path(__file__).resolve().parents[2]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crd_reference", REPO / "hack" / "crd_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_crd_reference_is_generated_from_the_current_crd() -> None:
    gen = generator()
    doc = gen.DOC.read_text()
    assert gen.updated(doc, gen.render(yaml.safe_load(gen.CRD.read_text()))) == doc, (
        "docs/crd-reference.md is stale: run .venv/bin/python hack/crd_reference.py"
    )


def test_a_schema_change_makes_the_reference_stale() -> None:
    gen = generator()
    crd = yaml.safe_load(gen.CRD.read_text())
    changed = copy.deepcopy(crd)
    version = next(v for v in changed["spec"]["versions"] if v.get("storage", True))
    spec_props = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    spec_props["newKnob"] = {"type": "boolean", "default": False, "description": "A new field."}
    rendered = gen.render(changed)
    assert "| `spec.newKnob` | boolean |  | `false` |  | A new field. |" in rendered
    assert gen.updated(gen.DOC.read_text(), rendered) != gen.DOC.read_text()
