"""Issue 16, item 2: durable-rules builds and runs on every supported Python.

Before 3.13 PyPI's durable-rules 2.0.28 is installed; from 3.13 on the project builds the same
release from vendor/durable_rules/ with upstream's one fix (its README.md says why). These tests
run on whichever interpreter runs the suite (CI: the full suite on 3.11, a smoke set on 3.13), so
each checks the durable-rules that this interpreter really imports.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import sys
import tomllib

import pytest
from packaging.requirements import Requirement

from .conftest import ROOT

# durable/engine.py (as released) computes its epoch with datetime.utcfromtimestamp, deprecated since 3.12
pytestmark = pytest.mark.filterwarnings("ignore:datetime.datetime.utcfromtimestamp:DeprecationWarning")

VENDOR = ROOT / "vendor" / "durable_rules"
PATCHED = "src/rulespy/rules.c"
VENDORED = sys.version_info >= (3, 13)


def test_durable_rules_comes_from_pypi_before_313_and_from_this_project_after():
    """The dependency's marker and setup.py's cut-off agree on this interpreter: exactly one
    distribution provides the engine, and it is the expected one."""
    (requirement,) = [Requirement(r) for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
                      if Requirement(r).name == "durable-rules"]
    assert str(requirement.specifier) == "==2.0.28"
    assert requirement.marker.evaluate() is not VENDORED
    providers = importlib.metadata.packages_distributions()
    expected = ["imr-rules-engine"] if VENDORED else ["durable_rules"]
    for module in ("durable", "durable_rules_engine"):
        assert sorted({importlib.metadata.distribution(d).metadata["Name"] for d in providers.get(module, [])}) == expected, module


def test_a_ruleset_fires_through_durable_lang():
    """The public API end to end: a join of two facts, and a chained fact that a second rule sees."""
    from durable.lang import assert_fact, c, m, ruleset, when_all

    fired = []
    with ruleset("build_probe_join"):
        @when_all(c.item << (m.t == "item"), c.hist << ((m.t == "history") & (m.region == c.item.region)))
        def joined(c):
            fired.append(("joined", c.item.id, c.hist.id))
            c.assert_fact({"t": "finding", "id": f"f-{c.item.id}", "item": c.item.id})

        @when_all(m.t == "finding")
        def chained(c):
            fired.append(("chained", c.m.item))

    assert_fact("build_probe_join", {"t": "history", "id": "h1", "region": "lumbar"})
    assert_fact("build_probe_join", {"t": "item", "id": "i1", "region": "lumbar"})
    assert_fact("build_probe_join", {"t": "item", "id": "i2", "region": "cervical"})
    assert fired == [("joined", "i1", "h1"), ("chained", "i1")]


def test_the_callbacks_the_patch_touches_are_called_and_their_results_read():
    """The five patched calls are durable's host callbacks: two of them, driven through the C
    extension, get their arguments and their integer results flow back as the release's do."""
    import durable_rules_engine as dre

    definition = json.dumps({"r": {"all": [{"m": {"t": "x"}}]}})
    deleted = []
    handle = dre.create_ruleset("build_probe_delete", definition)
    dre.set_delete_message_callback(handle, lambda *args: deleted.append(args) or 0)
    assert dre.assert_fact(handle, '{"t":"x","id":"1","sid":"s"}') == (0, 1)
    assert dre.retract_fact(handle, '{"t":"x","id":"1","sid":"s"}') == (0, 1)
    assert deleted == [("build_probe_delete", "s", "1")]

    queued = []
    handle = dre.create_ruleset("build_probe_queue", definition)
    dre.set_queue_message_callback(handle, lambda *args: queued.append(args) or 0)
    event = '{"t":"x","id":"1","sid":"new"}'
    assert dre.assert_event(handle, event) == (3, 0)  # deferred to the host: no state for sid "new"
    assert queued == [("build_probe_queue", "new", 2, event)]
    dre.set_queue_message_callback(handle, lambda *args: 42)
    with pytest.raises(dre.error, match="error code: 42"):
        dre.assert_event(handle, event)


def _released() -> dict[str, str]:
    return {path: digest for digest, path in (line.split() for line in (VENDOR / "RELEASE.sha256").read_text().splitlines())}


def test_the_vendored_source_is_the_release_but_for_the_one_patch():
    released = _released()
    shipped = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert shipped - set(released) == {"README.md", "RELEASE.sha256", "py313.patch"}
    assert set(released) <= shipped
    for path, digest in released.items():
        data = (VENDOR / path).read_bytes()
        if path == PATCHED:
            assert data.count(b"PyObject_CallObject(") == 5 and b"PyEval_CallObject" not in data
            data = data.replace(b"PyObject_CallObject(", b"PyEval_CallObject(")
        assert hashlib.sha256(data).hexdigest() == digest, path


def test_the_patch_file_shows_that_one_change():
    text = (VENDOR / "py313.patch").read_text()
    assert re.findall(r"^(?:---|\+\+\+) \S+", text, re.M) == [f"--- a/{PATCHED}", f"+++ b/{PATCHED}"]
    removed = re.findall(r"^-(?!--)(.*)$", text, re.M)
    added = re.findall(r"^\+(?!\+\+)(.*)$", text, re.M)
    assert len(removed) == 5 and [line.replace("PyEval_CallObject(", "PyObject_CallObject(") for line in removed] == added
