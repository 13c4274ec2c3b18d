"""docs/api.md documents the real API: every name it mentions exists, signatures match, nothing
public is left out; and every ``tsp_celery.x.y`` named anywhere in the docs exists.

api.md conventions the tests rely on:
- ``### `tsp_celery.module.name(params)` `` documents a function or class (full dotted name);
- ``#### `Class.member(params)` `` documents a member of the last ``###`` class;
- parameters in a heading must be the real ones, in order, with the real defaults;
- ``<!-- fields: tsp_celery.module.Class -->`` before a table: its first column lists exactly
  the dataclass's fields.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from doc_helpers import ROOT, code_spans, doc_id, doc_paths, prose, stable_id

API = ROOT / "docs" / "api.md"
HEADING = re.compile(r"^(#{3,4})\s+`([^`]+)`\s*$", re.M)
DOTTED = re.compile(r"\btsp_celery(?:\.[A-Za-z_]\w*)+")


def resolve(dotted: str) -> Any:
    """The object a dotted name refers to: attributes first (``tsp_celery.problem.generate`` is
    the function, not its module), submodules imported where no attribute exists."""
    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for k, part in enumerate(parts[1:], start=2):
        if hasattr(obj, part):
            obj = getattr(obj, part)
        else:
            obj = importlib.import_module(".".join(parts[:k]))
    return obj


def entries() -> list[tuple[str, str, str | None, Any]]:
    """(heading text, resolved dotted name, parameter text or None, object) of api.md."""
    out = []
    owner = None
    for level, text in HEADING.findall(prose(API)):
        name, params = [*text.split("(", 1), None][:2]
        params = params.rsplit(")", 1)[0] if params is not None else None
        if level == "###":
            dotted = name
            owner = name
        else:
            assert owner is not None, f"{text}: a member heading before any ### entry"
            member = name.split(".")[-1]
            dotted = f"{owner}.{member}"
        try:
            obj = resolve(dotted)
        except (ImportError, AttributeError):
            obj = MISSING
        out.append((text, dotted, params, obj))
    return out


MISSING = object()


def split_params(text: str) -> list[str]:
    """Top-level comma-separated parameters of a heading (commas inside brackets stay)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def real_params(obj: Any) -> list[inspect.Parameter]:
    target = obj.fget if isinstance(obj, property) else obj
    params = list(inspect.signature(target).parameters.values())
    if params and params[0].name in ("self", "cls"):
        params = params[1:]
    return [p for p in params if not p.name.startswith("_")]


def test_api_doc_has_entries():
    assert len(entries()) >= 30


@pytest.mark.parametrize("heading,dotted,params,obj", entries(), ids=stable_id)
def test_signature_in_heading_is_the_real_one(heading, dotted, params, obj):
    assert obj is not MISSING, f"api.md documents {dotted}, which does not exist"
    if params is None:
        return
    documented = [p for p in split_params(params) if p not in ("*", "/")]
    real = real_params(obj)
    names = [p.split("=")[0].strip().lstrip("*") for p in documented]
    assert names == [p.name for p in real], f"{heading}: real parameters {real}"
    for text, param in zip(documented, real, strict=True):
        if "=" in text:
            shown = text.split("=", 1)[1].strip()
            assert same_default(shown, param.default), (
                f"{heading}: {param.name} defaults to {param.default!r}")
        else:
            assert param.default is inspect.Parameter.empty or param.kind in (
                param.VAR_POSITIONAL, param.VAR_KEYWORD), (
                f"{heading}: {param.name} has a default ({param.default!r}): show it")


def same_default(shown: str, default: Any) -> bool:
    """A literal shown equals the default; a name shown (``time.monotonic``) is its qualname."""
    try:
        return ast.literal_eval(shown) == default
    except ValueError:
        where = getattr(default, "__module__", "")
        return shown == f"{where}.{getattr(default, '__qualname__', '')}"


def documented_names() -> set[str]:
    return {dotted for _, dotted, _, _ in entries()}


@pytest.mark.parametrize("module", ["tsp_celery", "tsp_celery.problem", "tsp_celery.plan"])
def test_every_exported_name_is_documented(module):
    mod = importlib.import_module(module)
    documented = {obj for _, _, _, obj in entries()}
    missing = [n for n in mod.__all__ if getattr(mod, n) not in documented]
    assert not missing, f"{module}.__all__ names not in api.md: {missing}"


@pytest.mark.parametrize("cls", ["tsp_celery.Problem", "tsp_celery.Result",
                                 "tsp_celery.cluster.client.ClusterClient",
                                 "tsp_celery.settings.Settings",
                                 "tsp_celery.cluster.job.JobParams"])
def test_every_public_member_is_documented(cls):
    obj = resolve(cls)
    owner = next(d for _, d, _, o in entries() if o is obj)
    public = {name for name, value in vars(obj).items() if not name.startswith("_")
              and (callable(value) or isinstance(value, (property, classmethod, staticmethod)))}
    missing = sorted(n for n in public if f"{owner}.{n}" not in documented_names())
    assert not missing, f"{cls} members not in api.md: {missing}"


def field_tables() -> list[tuple[str, set[str]]]:
    """(class, names in the first column) of each table marked ``<!-- fields: Class -->``."""
    out = []
    text = prose(API)
    for m in re.finditer(r"<!--\s*fields:\s*(\S+)\s*-->\s*\n((?:\|.*\n?)+)", text):
        rows = [r for r in m.group(2).strip().split("\n")[2:]]
        names = {code_spans(r.split("|")[1])[0] for r in rows}
        out.append((m.group(1), names))
    return out


def test_field_tables_exist():
    assert {c for c, _ in field_tables()} >= {"tsp_celery.Result", "tsp_celery.settings.Settings"}


@pytest.mark.parametrize("cls,names", field_tables(), ids=stable_id)
def test_field_tables_list_exactly_the_fields(cls, names):
    real = {f.name for f in dataclasses.fields(resolve(cls)) if not f.name.startswith("_")}
    assert names == real, f"missing {real - names}, not fields {names - real}"


@pytest.mark.parametrize("path", doc_paths(), ids=doc_id)
def test_every_dotted_name_in_the_docs_exists(path: Path):
    text = path.read_text(encoding="utf-8")
    missing = []
    for dotted in sorted(set(DOTTED.findall(text))):
        try:
            resolve(dotted)
        except (ImportError, AttributeError):
            missing.append(dotted)
    assert not missing, f"{doc_id(path)} names what does not exist: {missing}"


FACT = re.compile(r"^(tsp_celery(?:\.\w+)+) = (.+)$")


def facts() -> list[tuple[str, str, str]]:
    """``tsp_celery.x.NAME = value`` code spans in the docs: constants quoted with their value."""
    return [(doc_id(p), m.group(1), m.group(2)) for p in doc_paths()
            for span in code_spans(prose(p)) if (m := FACT.match(span))]


def test_the_docs_quote_constants():
    assert len([f for f in facts() if f[0] == "docs/performance.md"]) >= 5


@pytest.mark.parametrize("doc,dotted,value", facts(), ids=lambda v: str(v)[-40:])
def test_quoted_constants_have_their_real_values(doc, dotted, value):
    assert resolve(dotted) == ast.literal_eval(value), f"{doc}: {dotted} is {resolve(dotted)!r}"
