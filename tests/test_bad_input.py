"""Bad input: one clear line per problem (path:line:col: CODE message), exit 2, no traceback."""

import re
import shutil
import subprocess
import sys

import pytest


from .conftest import ROOT, SEED, run

LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]\d{3}) .+$")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def seed_text():
    return SEED.read_text()


@pytest.mark.parametrize("mutate,code,fragment,marker", [
    (lambda t: t.replace("request_date: 2015-06-10", "request_date: [2015"), "Y002", "invalid YAML", "request_date: [2015"),
    (lambda t: t.replace("  age: 43", "  age: 43\n  shoe_size: 9"), "E002", "injured_worker.shoe_size: unknown field", "shoe_size: 9"),
    (lambda t: t.replace("  age: 43", "  age: forty-three"), "E002", "injured_worker.age", "age: forty-three"),
    (lambda t: t.replace("code: M51.16", "code: M99.999"), "E002", "'M99.999' is not an ICD-10-CM code", "code: M99.999"),
    (lambda t: t.replace("    frequency_per_week: 2\n    duration_weeks: 4\n  - type: therapy", "    frequency_per_week: -2\n    duration_weeks: 4\n  - type: therapy"), "E002", "frequency_per_week", "frequency_per_week: -2"),
    (lambda t: t.replace("functional_improvement: not documented\n    home_exercise_program: true\n  - service: physical_therapy\n    region: cervical", "functional_improvement: maybe\n    home_exercise_program: true\n  - service: physical_therapy\n    region: cervical"), "E002", "should be true, false or", "functional_improvement: maybe"),
    (lambda t: t.replace("  pt-lumbar: Upheld", "  pt-thoracic: Upheld"), "E002", "expected names items that are not requested", None),
])
def test_bad_case_file(tmp_path, capsys, mutate, code, fragment, marker):
    text = mutate(seed_text())
    assert text != seed_text()
    path = write(tmp_path, "case.yaml", text)
    exit_code, out, err = run(capsys, "decide", str(path))
    assert exit_code == 2
    assert out == ""  # never partial output that looks complete
    lines = err.strip().splitlines()
    assert len(lines) >= 1
    for problem in lines:
        assert LINE.match(problem), problem
    first = LINE.match(lines[0])
    assert first["path"] == str(path) and first["code"] == code and fragment in lines[0]
    if marker:  # the line the problem is on (a YAML syntax error may be noticed a line later)
        line = next(n for n, x in enumerate(text.splitlines(), 1) if marker in x)
        assert int(first["line"]) in (line, line + 1), lines[0]


def test_several_problems_in_one_run(tmp_path, capsys):
    text = seed_text().replace("  age: 43", "  age: 430").replace("code: M54.2", "code: Q00.000")
    exit_code, _, err = run(capsys, "decide", str(write(tmp_path, "case.yaml", text)))
    assert exit_code == 2
    assert len(err.strip().splitlines()) == 2


def test_missing_and_binary_files(tmp_path, capsys):
    assert run(capsys, "decide", str(tmp_path / "nope.yaml"))[0] == 2
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\x00\x01\xff")
    code, _, err = run(capsys, "decide", str(binary))
    assert code == 2 and "Y001" in err


def _rules_copy(tmp_path):
    target = tmp_path / "rules"
    shutil.copytree(ROOT / "guideline_rules", target)
    return target


def test_bad_rule_condition_is_reported_at_its_file_line_and_column(tmp_path, capsys):
    rules = _rules_copy(tmp_path)
    pack = rules / "packs" / "mtus-cpmtg-2009-physical-medicine.yaml"
    text = pack.read_text().replace("require: history.visits_total <= allowance.visits\n    rationale:",
                                    "require: history.visits_totl <= allowance.visits and\n    rationale:", 1)
    pack.write_text(text)
    line = text.splitlines().index("    require: history.visits_totl <= allowance.visits and") + 1
    code, out, _ = run(capsys, "validate", str(rules))
    assert code == 1
    problems = [LINE.match(x) for x in out.strip().splitlines()]
    assert problems and all(problems)
    hit = [p for p in problems if p["code"] == "C001"]
    assert hit and int(hit[0]["line"]) == line and int(hit[0]["col"]) == len("    require: history.visits_totl <= allowance.visits and") + 1
    # decide with the broken rules: exit 2, nothing on stdout
    code, out, err = run(capsys, "decide", str(SEED), "--rules", str(rules))
    assert code == 2 and out == "" and "C001" in err


def test_rule_templates_cannot_reach_python(tmp_path, capsys):
    rules = _rules_copy(tmp_path)
    pack = rules / "packs" / "mtus-cpmtg-2009-physical-medicine.yaml"
    text = pack.read_text().replace("The requested frequency of {{ item.frequency_per_week }}",
                                    "The requested frequency of {{ item.__class__.__mro__ }} {{ cycler() }}", 1)
    pack.write_text(text)
    code, out, _ = run(capsys, "validate", str(rules))
    assert code == 1
    assert "T001" in out and ("may not use call" in out or "unknown field" in out)


def test_the_real_command_prints_no_traceback(tmp_path):
    path = write(tmp_path, "case.yaml", "case_id: x\nrequest_date: 2015-01-01\nrequested_items: nope\n")
    proc = subprocess.run([sys.executable, "-m", "engine", "decide", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert LINE.match(proc.stderr.strip().splitlines()[0])
