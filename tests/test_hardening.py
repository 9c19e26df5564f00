"""Regression tests of issue 13 ("nothing lost, nothing wrong on bad input"), items 2, 3, 5, 6, 7
and 8: each failed before its fix. Commands that could hang, exhaust memory or be interrupted run
in a child process under a memory cap and a time limit."""

from __future__ import annotations

import io
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from engine.cli.main import main
from engine.model.case import Case
from engine.ops.batch import run_batch
from engine.ops.generator import generate_lines

from .conftest import ROOT, SEED, run

LINE = re.compile(r"^[^\n]+:\d+:\d+: [A-Z]\d{3} .+$")
LIMIT = 1_500_000_000  # bytes of address space for a child


def _cap(limit: int = LIMIT):
    def set_limit():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return set_limit


def imr(*args, timeout: float = 120, cwd=ROOT, **kw) -> subprocess.CompletedProcess:
    """`imr ARGS` in a fresh process with a memory cap and a time limit (a hang fails the test)."""
    return subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          errors="replace", timeout=timeout, preexec_fn=_cap(), **kw)


def one_positioned_line(err: str, code: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and LINE.match(lines[0]) and f" {code} " in lines[0], err
    assert "Traceback" not in err
    return lines[0]


def _lines(engine, n: int, seed: int) -> list[str]:
    return generate_lines(engine.base.vocabulary, n, seed)


def _reference(engine, path: Path) -> bytes:
    out = io.StringIO()
    run_batch(engine, path, out, err=io.StringIO(), progress=False)
    return out.getvalue().encode()


# ---------------------------------------------------------------- 2. batch output: never over an input, whole or not at all

@pytest.mark.parametrize("how", ["same path", "another spelling", "hard link", "symbolic link"])
def test_batch_refuses_to_write_its_output_over_its_input(engine, tmp_path, capsys, how):
    src = tmp_path / "cases.jsonl"
    src.write_text("\n".join(_lines(engine, 5, seed=1)) + "\n")
    before = src.read_bytes()
    out = {"same path": src, "another spelling": tmp_path / "." / ".." / tmp_path.name / "cases.jsonl",
           "hard link": tmp_path / "link.jsonl", "symbolic link": tmp_path / "sym.jsonl"}[how]
    if how == "hard link":
        os.link(src, out)
    elif how == "symbolic link":
        out.symlink_to(src)
    code, stdout, err = run(capsys, "batch", src, "-o", out, "--no-progress")
    assert code == 2 and stdout == ""
    assert one_positioned_line(err, "B001").startswith(f"{out}:1:1: B001 ")
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"cases.jsonl", out.name})  # no temporary file left


def _wait_for_output(folder: Path, keep: set[str], proc, size: int = 30_000, timeout: float = 240) -> None:
    """Until some file other than the inputs holds `size` bytes (the batch is under way)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"the batch ended before it could be interrupted: {proc.stderr.read()}")
        if any(p.name not in keep and p.is_file() and p.stat().st_size >= size for p in folder.iterdir()):
            return
        time.sleep(0.02)
    raise AssertionError("no output appeared")


@pytest.mark.parametrize("sig,workers", [(signal.SIGINT, 1), (signal.SIGINT, 2), (signal.SIGTERM, 1), (signal.SIGTERM, 2)],
                         ids=["ctrl-c", "ctrl-c-workers-2", "sigterm", "sigterm-workers-2"])
def test_an_interrupted_batch_says_what_it_wrote_and_resume_completes_it(engine, tmp_path, sig, workers):
    src = tmp_path / "cases.jsonl"
    src.write_text("\n".join(_lines(engine, 2000, seed=4)) + "\n")
    reference = _reference(engine, src)
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"an earlier run's output\n")
    proc = subprocess.Popen([sys.executable, "-m", "engine", "batch", str(src), "-o", str(out), "--no-progress", "--workers", str(workers)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_cap(), start_new_session=True)
    try:
        _wait_for_output(tmp_path, {"cases.jsonl", "out.jsonl"}, proc)
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole foreground process group: the workers too
        else:
            proc.send_signal(sig)  # `kill PID`: the parent only
        stdout, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err and stdout == ""
    last = err.strip().splitlines()[-1]
    found = re.fullmatch(r"batch: interrupted: (\d+) cases? written to (\S+) \(.*--resume.*\)", last)
    assert found, err
    assert len(err.strip().splitlines()) == 1, err
    written, partial = int(found.group(1)), Path(found.group(2))
    assert out.read_bytes() == b"an earlier run's output\n"  # the output named is untouched: no half-done file there
    assert partial == tmp_path / "out.jsonl.partial"
    assert partial.read_bytes() == b"".join(reference.splitlines(keepends=True)[:written]) and written > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.jsonl", "out.jsonl", "out.jsonl.partial"]
    resumed = imr("batch", src, "-o", out, "--no-progress", "--resume", "--workers", workers)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed after {written} " in resumed.stderr
    assert out.read_bytes() == reference  # as an uninterrupted run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.jsonl", "out.jsonl"]


def test_resume_continues_from_the_complete_prefix_of_an_existing_output(engine, tmp_path, capsys):
    lines = _lines(engine, 60, seed=9)
    lines.insert(10, "not json")  # a bad line inside the prefix: reported again, no record
    src = tmp_path / "cases.jsonl"
    src.write_text("\n".join(lines) + "\n")
    reference = _reference(engine, src)
    records = reference.splitlines(keepends=True)
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"".join(records[:25]) + records[25][:40])  # a run killed while writing a record
    code, stdout, err = run(capsys, "batch", src, "-o", out, "--no-progress", "--resume")
    assert code == 2 and stdout == ""  # the bad line still counts
    assert f"{src}:11:1: E003" in err and "resumed after 25 cases" in err
    assert out.read_bytes() == reference
    other = tmp_path / "other.jsonl"  # an output of another input is not resumed from
    other.write_text("\n".join(_lines(engine, 30, seed=10)) + "\n")
    code, _, err = run(capsys, "batch", other, "-o", out, "--no-progress", "--resume")
    assert code == 2 and one_positioned_line(err, "B002").startswith(f"{out}:1:1: B002")
    assert out.read_bytes() == reference


def test_two_batches_writing_one_output_leave_one_whole_file(engine, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("\n".join(_lines(engine, 800, seed=21)) + "\n")
    b.write_text("\n".join(_lines(engine, 800, seed=22)) + "\n")
    out = tmp_path / "out.jsonl"
    procs = [subprocess.Popen([sys.executable, "-m", "engine", "batch", str(p), "-o", str(out), "--no-progress"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_cap()) for p in (a, b)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    assert out.read_bytes() in (_reference(engine, a), _reference(engine, b))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "b.jsonl", "out.jsonl"]


# ---------------------------------------------------------------- 3. diff: user text never reaches git as an option

@pytest.mark.parametrize("option", ["--base=-o{victim}", "--base=--output={victim}", "--head=-o{victim}",
                                    "--rules-path=-o{victim}"])
def test_diff_revisions_and_paths_never_reach_git_as_options(tmp_path, capsys, option):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    argv = ["diff", option.format(victim=victim), "--repo", ROOT]
    if not option.startswith("--base"):
        argv.insert(1, "--base=HEAD~0^{commit}~0" if option.startswith("--head") else "--base=HEAD")
    code, out, err = run(capsys, *argv)
    assert victim.read_text() == "keep me\n"
    assert code == 2 and out == ""
    one_positioned_line(err, "D001")


def test_diff_unknown_revision_is_one_line(capsys):
    code, out, err = run(capsys, "diff", "--base", "no-such-revision-3f9a", "--repo", ROOT)
    assert code == 2 and out == ""
    assert one_positioned_line(err, "D001").startswith("no-such-revision-3f9a:1:1: D001 ")


# ---------------------------------------------------------------- 5. limits checked before the work

@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "case.yaml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("what", ["/dev/zero", "/dev/urandom", "fifo", "folder"])
def test_decide_refuses_what_is_not_a_regular_file_before_reading_it(tmp_path, fifo, what):
    target = {"fifo": fifo, "folder": tmp_path}.get(what, what)
    proc = imr("decide", target, timeout=30)
    assert proc.returncode == 2 and proc.stdout == ""
    assert one_positioned_line(proc.stderr, "Y000").startswith(f"{target}:1:1: Y000 ")


def test_validate_and_test_on_a_fifo_do_not_hang(fifo):
    for command in ("validate", "test"):
        proc = imr(command, fifo, timeout=180)
        assert proc.returncode in (1, 2), proc.stderr
        assert f"{fifo}:1:1: Y000 " in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr


_TIMED_LOAD = """
import resource, sys, time
from engine.load.yaml_source import load_file
from engine.model.diagnostics import InputError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    load_file(sys.argv[1])
except InputError as exc:
    print(exc.diagnostics[0])
print(round(time.perf_counter() - start, 3), (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


@pytest.mark.parametrize("shape", ["flow list", "block list", "mapping"])
def test_a_yaml_file_of_millions_of_small_values_fails_fast(tmp_path, shape):
    path = tmp_path / "case.yaml"
    if shape == "flow list":
        text = "summary: [" + ",".join(["1"] * 2_400_000) + "]\n"
    elif shape == "block list":
        text = "summary:\n" + "- 1\n" * 1_200_000
    else:
        text = "".join(f"k{n}: {n % 10}\n" for n in range(450_000))
    assert len(text) <= 5_000_000  # under the size cap: only the node count can stop it
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-c", _TIMED_LOAD, str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=30, preexec_fn=_cap())
    diagnostic, figures = proc.stdout.strip().splitlines()
    seconds, grown_mb = figures.split()
    assert " Y003 " in diagnostic and LINE.match(diagnostic)
    assert float(seconds) < 2.0, f"{seconds} s to refuse it"
    assert int(grown_mb) < 150, f"{grown_mb} MB to refuse it"


_PEAK = """
import sys
from engine.cli.main import main
try:
    code = main(sys.argv[2:])
finally:  # the high-water mark of this process's own memory (ru_maxrss would count the parent's, from before exec)
    peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    open(sys.argv[1], "w").write(peak)
raise SystemExit(code)
"""


def _measured(folder: Path, *args, timeout: float = 120):
    """`imr ARGS` in a child under the memory cap: exit code, stdout, stderr and the child's peak RSS in MB."""
    peak = folder / "peak.txt"
    proc = subprocess.run([sys.executable, "-c", _PEAK, str(peak), *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          errors="replace", timeout=timeout, preexec_fn=_cap())
    return proc.returncode, proc.stdout, proc.stderr, int(peak.read_text()) // 1024


def test_an_oversize_batch_line_is_skipped_without_reading_it_whole(engine, tmp_path):
    good = _lines(engine, 2, seed=5)
    path = tmp_path / "cases.jsonl"
    with open(path, "wb") as f:
        f.write(good[0].encode() + b"\n")
        f.seek(200_000_000, os.SEEK_CUR)  # a sparse 200 MB line of NUL bytes
        f.write(b"\n" + good[1].encode() + b"\n")
    returncode, stdout, err, peak_mb = _measured(tmp_path, "batch", path, "--no-progress")
    assert returncode == 2, err
    problems = err.strip().splitlines()
    assert len(problems) == 2 and problems[0].startswith(f"{path}:2:1: E003 line longer than "), err
    assert problems[1].startswith("batch: 2 cases decided")
    assert len(stdout.splitlines()) == 2
    assert peak_mb < 500, f"peak {peak_mb} MB: the line was read whole"


# ---------------------------------------------------------------- 6. one file's failure is that file's diagnostic

MERGE = "# yaml-language-server: $schema=../schema/case.schema.json\nbase: &b {case_id: m}\n<<: *b\nrequest_date: 2015-06-10\n"


def test_a_merge_key_is_that_files_diagnostic_and_the_folder_run_goes_on(tmp_path, capsys):
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "a_seed.yaml").write_text(SEED.read_text())
    (folder / "b_merge.yaml").write_text(MERGE)
    (folder / "c_bad.yaml").write_text(SEED.read_text().replace("request_date:", "request_dat:"))
    code, out, err = run(capsys, "validate", folder)
    assert code == 1
    assert f"{folder / 'b_merge.yaml'}:3:1: Y005 " in out and f"{folder / 'c_bad.yaml'}:" in out
    assert "case file valid" in err and "Traceback" not in err
    code, out, err = run(capsys, "test", folder)
    assert code == 2
    assert f"{folder / 'b_merge.yaml'}:3:1: Y005 " in err
    assert re.search(r"^\d+ passed, \d+ failed", out, re.M), out
    code, out, err = run(capsys, "decide", folder / "b_merge.yaml")
    assert code == 2 and one_positioned_line(err, "Y005")


def test_a_merge_key_in_a_rule_pack_is_that_packs_diagnostic(tmp_path, capsys):
    import shutil

    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "guideline_rules", rules)
    pack = rules / "packs" / "mtus-cpmtg-2009-tens.yaml"
    pack.write_text(pack.read_text() + "extra: &x {a: 1}\nmore:\n  <<: *x\n")
    code, out, err = run(capsys, "validate", rules)
    assert code == 1 and f"{pack}:" in out and " Y005 " in out and "Traceback" not in err
    code, out, err = run(capsys, "decide", SEED, "--rules", rules)
    assert code == 2 and f"{pack}:" in err and "Y005" in err


def test_an_unexpected_failure_loading_one_file_is_that_files_diagnostic(tmp_path, capsys, monkeypatch):
    """The family of item 6: any exception while loading one file (here a model check that fails
    with a TypeError) is that file's positioned Y009 line, and the folder run goes on."""
    import engine.load.cases as cases

    real = cases.Case

    class Fragile(real):
        @classmethod
        def model_validate(cls, data, *args, **kw):
            if isinstance(data, dict) and data.get("case_id") == "boom":
                raise TypeError("an unexpected failure")
            return real.model_validate(data, *args, **kw)

    monkeypatch.setattr(cases, "Case", Fragile)
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "a_seed.yaml").write_text(SEED.read_text())
    (folder / "b_boom.yaml").write_text(SEED.read_text().replace("case_id: seed-000-b27565c25da42ea0", "case_id: boom"))
    code, out, err = run(capsys, "validate", folder)
    assert code == 1 and f"{folder / 'b_boom.yaml'}:1:1: Y009 cannot load: TypeError: an unexpected failure" in out
    assert "1 case file valid" in err
    code, out, err = run(capsys, "test", folder)
    assert code == 2 and f"{folder / 'b_boom.yaml'}:1:1: Y009 " in err
    assert re.search(r"^3 passed, 0 failed\b.*\b1 invalid case file\b", out, re.M), out


def test_sigterm_ends_a_long_command_with_one_line():
    proc = subprocess.Popen([sys.executable, "-m", "engine", "soak", "--cases", "1000000", "--every", "200"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_cap())
    try:
        first = proc.stdout.readline()  # deciding
        assert first, proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143 and err.strip() == "imr: interrupted", err


# ---------------------------------------------------------------- 7. explain: the counterfactual search has a budget

def many_item_case(engine, n: int, seed: int = 5) -> str:
    """A generated case with `n` requested items (taken from consecutive generated cases), as YAML."""
    generated = [json.loads(line) for line in generate_lines(engine.base.vocabulary, n, seed)]
    data, items = dict(generated[0]), []
    for other in generated:
        items.extend(other["requested_items"])
    data.update(requested_items=[dict(item, id=f"item-{k}") for k, item in enumerate(items[:n])], case_id=f"many-{n}")
    case = Case.model_validate_json(json.dumps(data))
    return yaml.safe_dump(case.model_dump(mode="python", by_alias=True, exclude={"expected"}, exclude_none=True), sort_keys=False)


def test_explain_on_a_100_item_case_finishes_and_says_when_it_stopped_early(engine, tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text(many_item_case(engine, 100))
    start = time.monotonic()
    proc = imr("explain", path, "--format", "json", "--budget-seconds", "1", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start < 90  # start-up and the trace of 100 items, and 1 s of search
    items = json.loads(proc.stdout)
    assert len(items) == 100
    upheld = [i for i in items if i["decision"] == "Upheld"]
    assert upheld and all("counterfactual_stopped" in i for i in items)
    stopped = [i for i in upheld if i["counterfactual_stopped"]]
    assert stopped, "1 s cannot cover the search of 100 items"
    assert all("1 s" in i["counterfactual_stopped"] for i in stopped)
    text = imr("explain", path, "--budget-runs", "3", "--item", upheld[0]["item_id"], timeout=120)
    assert text.returncode == 0, text.stderr
    assert "search stopped early" in text.stdout and "3 re-runs" in text.stdout
    assert text.stderr == ""  # no progress drawn when standard error is not a terminal


def test_explain_default_budget_ends_a_100_item_case(engine, tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text(many_item_case(engine, 100))
    start = time.monotonic()
    proc = imr("explain", path, "--format", "json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start < 200  # the default budget is 60 s of search
    assert len(json.loads(proc.stdout)) == 100


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_explain_shows_progress_only_on_a_terminal(capsys, monkeypatch):
    code, out, err = run(capsys, "explain", SEED, "--item", "pt-lumbar")
    assert code == 0 and err == ""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["explain", str(SEED), "--item", "pt-lumbar"]) == 0
    assert "explain: " in terminal.getvalue() and "re-run" in terminal.getvalue()
    assert "\r" in terminal.getvalue()
    assert "explain: " not in capsys.readouterr().out


# ---------------------------------------------------------------- 8. control characters are escaped on output, warned by validate

ESCAPES = "\x1b[2J\x1b[31mFAKE: Overturned\x1b[0m\x9b2J\x07\r"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _hostile_case(tmp_path) -> Path:
    text = SEED.read_text()
    old = "description: Physical therapy 2 times a week for 4 weeks for the lumbar spine"
    assert old in text
    path = tmp_path / "case.yaml"
    path.write_text(text.replace(old, "description: " + json.dumps(ESCAPES + " PT")))  # a JSON string is a YAML double-quoted scalar
    return path


def test_control_characters_in_case_text_are_escaped_on_output(tmp_path, capsys):
    path = _hostile_case(tmp_path)
    code, out, err = run(capsys, "decide", path)
    assert code == 0 and not RAW.search(out) and not RAW.search(err)
    assert "\\x1b[2J\\x1b[31mFAKE: Overturned" in out
    code, out, _ = run(capsys, "decide", path, "--format", "json")
    assert code == 0 and not RAW.search(out)
    assert any(ESCAPES in item["item"] for item in json.loads(out)["items"])  # JSON keeps the text, escaped
    code, out, err = run(capsys, "explain", path, "--no-counterfactuals")
    assert code == 0 and not RAW.search(out) and "\\x1b[2J" in out
    code, out, err = run(capsys, "validate", path)
    warnings = [x for x in out.splitlines() if " W004 " in x]
    assert len(warnings) == 1 and LINE.match(warnings[0]) and not RAW.search(out)
    line = next(n for n, x in enumerate(path.read_text().splitlines(), 1) if "FAKE" in x)
    assert warnings[0].startswith(f"{path}:{line}:")


def test_control_characters_in_diagnostics_and_batch_output_are_escaped(tmp_path, capsys):
    record = {"case_id": "esc", "request_date": "2015-06-10", "requested_items": [
        {"type": "therapy", "id": "pt", "description": "PT\x9b31m 2x4\u202e\x7f", "service": "physical_therapy",
         "region": "lumbar", "frequency_per_week": 2, "duration_weeks": 4}]}
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps(dict(record, request_date="\x1b[2J")) + "\n")
    code, out, err = run(capsys, "batch", path, "--no-progress")
    assert code == 2 and not RAW.search(out) and not RAW.search(err)
    assert json.loads(out.splitlines()[0])["items"][0]["item"] == record["requested_items"][0]["description"]  # JSON keeps it, escaped
    code, out, err = run(capsys, "explain", SEED, "--item", "\x1b[2J\nFAKE")  # a value quoted in a message
    assert code == 2 and not RAW.search(err) and len(err.strip().splitlines()) == 1
    assert "unknown item '\\x1b[2J\\x0aFAKE'" in err
    named = tmp_path / "case\x1b[31m.yaml"  # a file name
    named.write_text("case_id: x\n")
    code, out, err = run(capsys, "decide", named)
    assert code == 2 and not RAW.search(err) and err.startswith(f"{tmp_path}/case\\x1b[31m.yaml:")


def test_control_characters_in_rule_text_are_warned_and_escaped(tmp_path, capsys):
    import shutil

    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "guideline_rules", rules)
    pack = rules / "packs" / "mtus-cpmtg-2009-tens.yaml"
    text = pack.read_text()
    at = text.index("    title: ")
    pack.write_text(text[:at] + '    title: "\\e[2JFAKE"\n' + text[text.index("\n", at) + 1:])
    code, out, err = run(capsys, "validate", rules)
    warned = [x for x in out.splitlines() if " W004 " in x]
    assert warned and warned[0].startswith(f"{pack}:") and not RAW.search(out)
    code, out, err = run(capsys, "docs", "--rules", rules)
    assert code == 0 and "\\x1b[2JFAKE" in out and not RAW.search(out)
