"""The Markdown reading the doc tests rely on: blocks, markers, commands, spans, anchors."""

from __future__ import annotations

from pathlib import Path

from doc_helpers import anchors, blocks, code_spans, commands

SAMPLE = """# Title

<!-- no-test -->
```bash
tsp-celery coordinator          # needs Redis
```

<!-- test: exit=2 output -->

```console
$ tsp-celery solve missing.tsp
error: missing.tsp: no such file
$ tsp-celery info x.tsp
line one

```

```python
print("hi")
```

## Gaps and proofs
## Gaps and proofs
Use ``a `b` c`` and `d`.
"""


def test_blocks_markers_and_commands(tmp_path: Path):
    doc = tmp_path / "doc.md"
    doc.write_text(SAMPLE)
    bash, console, python = blocks(doc)
    assert (bash.lang, bash.tested, bash.line) == ("bash", False, 5)
    assert [c.text for c in commands(bash)] == ["tsp-celery coordinator"]
    assert console.tested and console.exit_code == 2 and "output" in console.markers
    cmds = commands(console)
    assert [c.text for c in cmds] == ["tsp-celery solve missing.tsp", "tsp-celery info x.tsp"]
    assert cmds[0].output == ["error: missing.tsp: no such file"]
    assert cmds[1].output == ["line one"]
    assert python.tested and python.markers == set() and python.lines == ['print("hi")']


def test_spans_and_anchors(tmp_path: Path):
    doc = tmp_path / "doc.md"
    doc.write_text(SAMPLE)
    assert code_spans("Use ``a `b` c`` and `d`.") == ["a `b` c", "d"]
    assert anchors(doc) == {"title", "gaps-and-proofs", "gaps-and-proofs-1"}
