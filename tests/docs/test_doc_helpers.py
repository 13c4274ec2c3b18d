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


def test_normalise_ignores_what_varies_and_keeps_what_a_reader_relies_on():
    from doc_helpers import normalise

    doc = ("pcb442: length 50778, gap 0.000% to optimum 50778, at most 0.862% above optimal "
           "(proven lower bound 50344), best after 2.14s of 4.70s")
    run = ("pcb442: length 50801, gap 0.045% to optimum 50778, at most 1.210% above optimal "
           "(proven lower bound 50196), best after 3.01s of 4.71s")
    assert normalise(doc) == normalise(run)
    estimate = run.replace("at most 1.210% above optimal (proven lower bound 50196)",
                           "1.210% above estimated lower bound 50196 (not proven)")
    assert normalise(doc) == normalise(estimate)  # whether the proof fit its time varies
    assert normalise(doc) != normalise(doc.replace(", at most 0.862% above optimal (proven "
                                                   "lower bound 50344)", ""))
    assert normalise(doc) != normalise(doc.replace("above optimal", "above lower bound"))
    assert normalise(doc) != normalise(doc.replace("optimum 50778", "optimum 50777"))
    assert normalise("leader: vm-4242  term 1  renewed 0.3 s ago") == \
        normalise("leader: vm-17  term 1  renewed 1.25 s ago")


def test_normalise_compares_json_keys_and_the_values_that_do_not_vary():
    from doc_helpers import normalise

    doc = '{"tour": [3, 1, ...], "length": 7542, "name": "berlin52", "stats": {"rounds": 3}}'
    assert normalise(doc) == normalise(
        '{"tour": [0, 2, 1], "length": 7544, "name": "berlin52", "stats": {"rounds": 9}}')
    assert normalise(doc) != normalise(
        '{"tour": [0, 2, 1], "length": 7544, "name": "berlin5", "stats": {"rounds": 9}}')
    assert normalise(doc) != normalise(
        '{"tour": [0, 2, 1], "length": 7544, "name": "berlin52", "stats": {"units": 9}}')
