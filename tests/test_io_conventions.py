"""Input and output conventions (issue 16, item 5): a `.json` case file is read as a batch line is
(an ISO date string is a date), `-` reads a case from standard input, and `imr validate --format
json|sarif` gives machine-readable diagnostics with the text output's exit codes."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest
import yaml

from engine.load.cases import case_from_json_line, load_case
from engine.model.diagnostics import CODES

from .conftest import ROOT, SEED, case_path, run

LINE = re.compile(r"^[^:]+:\d+:\d+: [A-Z]\d{3} .+$")
DICLOFENAC = case_path("003_topical_diclofenac_knee_oa.yaml")


def seed_data() -> dict:
    """The seed case as plain JSON values: its dates as ISO strings."""
    return json.loads(json.dumps(yaml.safe_load(SEED.read_text()), default=str))


def with_stdin(monkeypatch, data: bytes) -> None:
    class Stdin:
        buffer = io.BytesIO(data)

    monkeypatch.setattr(sys, "stdin", Stdin())


# ---------------------------------------------------------------- a .json case is a batch line

def test_yaml_json_and_a_batch_line_decide_alike(tmp_path, capsys):
    data = seed_data()
    assert isinstance(data["request_date"], str) and re.fullmatch(r"\d{4}-\d\d-\d\d", data["request_date"])
    as_json = tmp_path / "seed.json"
    as_json.write_text(json.dumps(data, indent=2))
    line = json.dumps(data)
    assert load_case(SEED) == load_case(as_json) == case_from_json_line(line, "x.jsonl")

    code_y, out_y, _ = run(capsys, "decide", str(SEED), "--format", "json")
    code_j, out_j, err_j = run(capsys, "decide", str(as_json), "--format", "json")
    assert code_y == code_j == 0 and out_y == out_j and err_j == ""
    assert run(capsys, "decide", str(SEED))[1] == run(capsys, "decide", str(as_json))[1]

    batch_in = tmp_path / "one.jsonl"
    batch_in.write_text(line + "\n")
    code_b, out_b, _ = run(capsys, "batch", str(batch_in), "--no-progress")
    assert code_b == 0 and json.loads(out_b) == json.loads(out_y)


def test_a_json_case_in_a_folder_is_tested_and_validated(tmp_path, capsys):
    data = seed_data()
    (tmp_path / "seed.json").write_text(json.dumps(data, indent=2))
    code, out, err = run(capsys, "test", str(tmp_path))
    assert code == 0 and "3 passed, 0 failed" in out, out + err
    code, out, err = run(capsys, "validate", str(tmp_path))
    assert code == 0 and "1 case file valid" in err, out + err
    assert "W002" not in out and "W003" not in out  # the editor's schema line and YAML comments are YAML's
    code, out, err = run(capsys, "explain", str(tmp_path / "seed.json"), "--no-counterfactuals")
    assert code == 0 and out


def test_a_yaml_file_stays_yaml(tmp_path, capsys):
    """A quoted date in YAML is text, as before: only a .json file is read in JSON mode."""
    path = tmp_path / "case.yaml"
    path.write_text(SEED.read_text().replace("request_date: 2015-06-10", "request_date: '2015-06-10'"))
    assert "request_date: '2015-06-10'" in path.read_text()
    code, out, err = run(capsys, "decide", str(path))
    assert code == 2 and out == ""
    assert re.match(rf"^{re.escape(str(path))}:\d+:1: E002 request_date: ", err)


def test_a_bad_json_case_is_positioned(tmp_path, capsys):
    data = seed_data()
    data["injured_worker"]["age"] = "forty"
    data["surprise"] = 1
    path = tmp_path / "bad.json"
    text = json.dumps(data, indent=2)
    path.write_text(text)
    lines = text.splitlines()
    age = next(n for n, x in enumerate(lines, 1) if '"age"' in x)
    surprise = next(n for n, x in enumerate(lines, 1) if '"surprise"' in x)
    code, out, err = run(capsys, "decide", str(path))
    assert code == 2 and out == "" and "Traceback" not in err
    got = err.splitlines()
    assert all(LINE.match(x) for x in got), got
    assert f"{path}:{age}:5: E002 injured_worker.age: Input should be a valid integer" in err
    assert f"{path}:{surprise}:3: E002 surprise: unknown field" in err

    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "case_id": "x",\n  "request_date": 2015-06-10\n}\n')
    code, out, err = run(capsys, "decide", str(broken))
    assert code == 2 and out == ""
    assert err.startswith(f"{broken}:3:") and " E003 invalid JSON: " in err and len(err.splitlines()) == 1


def test_a_json_case_past_the_file_limit_is_refused_before_it_is_read(tmp_path, capsys):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:
        f.truncate(6_000_000)
    code, out, err = run(capsys, "decide", str(path))
    assert code == 2 and out == "" and err == f"{path}:1:1: Y001 file larger than 5000000 bytes\n"


# ---------------------------------------------------------------- `-`: a case on standard input

@pytest.mark.parametrize("kind", ["yaml", "json", "yaml flow mapping"])
def test_decide_reads_standard_input(kind, monkeypatch, capsys):
    expected = run(capsys, "decide", str(SEED))[1]
    if kind == "yaml":
        data = SEED.read_bytes()
    elif kind == "json":
        data = json.dumps(seed_data(), indent=2).encode()
    else:  # starts with `{` but is not JSON: read as YAML
        data = yaml.safe_dump(yaml.safe_load(SEED.read_text()), default_flow_style=True, width=10**6).encode()
        assert data.lstrip().startswith(b"{")
        with pytest.raises(json.JSONDecodeError):
            json.loads(data)
    with_stdin(monkeypatch, b"\n  " + data)
    code, out, err = run(capsys, "decide", "-")
    assert code == 0 and out == expected and err == ""


def test_explain_reads_standard_input(monkeypatch, capsys):
    expected = run(capsys, "explain", str(SEED), "--no-counterfactuals", "--format", "json")[1]
    with_stdin(monkeypatch, json.dumps(seed_data()).encode())
    code, out, err = run(capsys, "explain", "-", "--no-counterfactuals", "--format", "json")
    assert code == 0 and out == expected
    with_stdin(monkeypatch, SEED.read_bytes())
    code, out, err = run(capsys, "explain", "-", "--item", "nope")
    assert code == 2 and err.startswith("<stdin>:1:1: E005 unknown item 'nope'")


def test_bad_standard_input_names_stdin(monkeypatch, capsys):
    text = json.dumps({**seed_data(), "surprise": 1}, indent=2)
    with_stdin(monkeypatch, text.encode())
    code, out, err = run(capsys, "decide", "-")
    line = next(n for n, x in enumerate(text.splitlines(), 1) if '"surprise"' in x)
    assert code == 2 and out == "" and err == f"<stdin>:{line}:3: E002 surprise: unknown field\n"
    with_stdin(monkeypatch, b'{"case_id": "x",, }')
    code, out, err = run(capsys, "decide", "-")
    assert code == 2 and err.startswith("<stdin>:1:17: E003 invalid JSON")  # looked like JSON: the JSON error
    with_stdin(monkeypatch, b"case_id: [unclosed\n")
    code, out, err = run(capsys, "decide", "-")
    assert code == 2 and re.match(r"^<stdin>:\d+:\d+: Y002 invalid YAML", err)
    with_stdin(monkeypatch, b"")
    code, out, err = run(capsys, "decide", "-")
    assert code == 2 and err == "<stdin>:1:1: Y008 file is empty\n"
    with_stdin(monkeypatch, b"case_id: \xff\n")
    code, out, err = run(capsys, "decide", "-")
    assert code == 2 and err.startswith("<stdin>:1:1: Y001 not UTF-8")


def test_an_oversized_standard_input_is_refused_with_the_size_code():
    """A real pipe, a fresh process: at most 5 MB + 1 byte is read, one Y001 line, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "engine", "decide", "-"], input=b"case_id: x\n" + b" " * 6_000_000,
                          capture_output=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2 and proc.stdout == b""
    assert proc.stderr.decode() == "<stdin>:1:1: Y001 standard input larger than 5000000 bytes\n"


def test_decide_from_a_real_pipe_equals_the_file():
    expected = subprocess.run([sys.executable, "-m", "engine", "decide", str(SEED)], capture_output=True, timeout=120, cwd=ROOT)
    piped = subprocess.run([sys.executable, "-m", "engine", "decide", "-"], input=json.dumps(seed_data()).encode(),
                           capture_output=True, timeout=120, cwd=ROOT)
    assert expected.returncode == piped.returncode == 0 and piped.stdout == expected.stdout and piped.stderr == b""


# ---------------------------------------------------------------- validate --format json | sarif

def two_bad(tmp_path):
    """A folder with two bad case files (a YAML and a JSON one) and a warning."""
    folder = tmp_path / "cases"
    folder.mkdir()
    data = seed_data()
    data["surprise"] = 1
    (folder / "a.json").write_text(json.dumps(data, indent=2))
    (folder / "b.yaml").write_text(SEED.read_text().replace("case_id:", "case_idd:", 1))
    warn = DICLOFENAC.read_text().replace("drug: diclofenac", "drug: diclofenak")
    (folder / "c.yaml").write_text(warn)
    return folder


def test_validate_json_lists_every_problem_with_positions(tmp_path, capsys):
    folder = two_bad(tmp_path)
    text_code, text_out, _ = run(capsys, "validate", str(folder))
    code, out, err = run(capsys, "validate", str(folder), "--format", "json")
    assert code == text_code == 1
    doc = json.loads(out)
    assert set(doc) == {"diagnostics", "summary"}
    diags = doc["diagnostics"]
    assert all(set(d) == {"path", "line", "col", "code", "severity", "message"} for d in diags)
    assert [f"{d['path']}:{d['line']}:{d['col']}: {d['code']} {d['message']}" for d in diags] == text_out.splitlines()
    by_file = {d["path"].rsplit("/", 1)[-1] for d in diags if d["severity"] == "error"}
    assert by_file == {"a.json", "b.yaml"}
    surprise = next(d for d in diags if d["path"].endswith("a.json") and "surprise" in d["message"])
    assert surprise["line"] > 1 and surprise["col"] == 3 and surprise["code"] == "E002"
    assert any(d["path"].endswith("b.yaml") and d["line"] > 1 for d in diags)
    warnings = [d for d in diags if d["code"].startswith("W")]
    assert warnings and all(d["severity"] == "warning" for d in warnings)
    assert any(d["code"] == "W001" and d["path"].endswith("c.yaml") for d in warnings)
    assert all(d["severity"] == "error" for d in diags if not d["code"].startswith("W"))
    summary = doc["summary"]
    assert summary["errors"] == len(diags) - len(warnings) and summary["warnings"] == len(warnings) and summary["case_files"] == 1


def test_validate_sarif_shape(tmp_path, capsys):
    folder = two_bad(tmp_path)
    code, out, err = run(capsys, "validate", str(folder), "--format", "sarif")
    assert code == 1
    doc = json.loads(out)
    assert doc["version"] == "2.1.0" and "sarif" in doc["$schema"]
    assert len(doc["runs"]) == 1
    run_ = doc["runs"][0]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "imr" and isinstance(driver["version"], str)
    rules = driver["rules"]
    assert [r["id"] for r in rules] == list(CODES)
    for r in rules:
        assert r["shortDescription"] == {"text": CODES[r["id"]]}
        assert r["defaultConfiguration"]["level"] == ("warning" if r["id"].startswith("W") else "error")
    results = run_["results"]
    json_doc = json.loads(run(capsys, "validate", str(folder), "--format", "json")[1])
    assert len(results) == len(json_doc["diagnostics"])
    for result, d in zip(results, json_doc["diagnostics"]):
        assert set(result) <= {"ruleId", "ruleIndex", "level", "message", "locations"}
        assert result["ruleId"] == d["code"] and rules[result["ruleIndex"]]["id"] == d["code"]
        assert result["level"] == d["severity"] and result["level"] in ("error", "warning")
        assert result["message"] == {"text": d["message"]}
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["region"] == {"startLine": d["line"], "startColumn": d["col"]}
        uri = physical["artifactLocation"]["uri"]
        assert uri.startswith("file:///") and uri.endswith(d["path"].rsplit("/", 1)[-1])
    assert {r["level"] for r in results} == {"error", "warning"}


def test_sarif_uris_are_relative_when_the_paths_are(tmp_path, capsys, monkeypatch):
    folder = two_bad(tmp_path)
    (folder / "d e.yaml").write_text("case_id: [\n")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "validate", "cases", "--format", "sarif")
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in json.loads(out)["runs"][0]["results"]}
    assert {"cases/a.json", "cases/b.yaml", "cases/c.yaml", "cases/d%20e.yaml"} <= uris


def test_validate_formats_keep_the_exit_codes(capsys):
    for fmt in ("text", "json", "sarif"):
        code, out, err = run(capsys, "validate", str(SEED), "--format", fmt)
        assert code == 0, (fmt, out, err)
    doc = json.loads(run(capsys, "validate", str(SEED), "--format", "json")[1])
    assert doc["diagnostics"] == [] and doc["summary"]["errors"] == 0
    sarif = json.loads(run(capsys, "validate", str(SEED), "--format", "sarif")[1])
    assert sarif["runs"][0]["results"] == []
