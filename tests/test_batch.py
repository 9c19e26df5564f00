"""Batch (JSON Lines in and out), the case generator and the benchmark's JSON figures."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from engine.ops.batch import run_batch
from engine.ops.bench import bench
from engine.cli.main import main
from engine.ops.generator import generate_lines

from .conftest import ROOT


def test_generator_is_seeded_and_its_cases_are_valid(engine):
    vocab = engine.base.vocabulary
    lines = generate_lines(vocab, 50, seed=7)
    assert lines == generate_lines(vocab, 50, seed=7)
    assert lines != generate_lines(vocab, 50, seed=8)
    from engine.load.cases import case_from_json_line

    kinds = {item.type for n, line in enumerate(lines) for item in case_from_json_line(line, f"gen:{n}").requested_items}
    assert kinds == {"therapy", "medication", "procedure"}


def _batch_file(engine, tmp_path, bad: dict[int, str]):
    lines = generate_lines(engine.base.vocabulary, 120, seed=11)
    for at, text in sorted(bad.items()):
        lines.insert(at - 1, text)
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, lines


def test_bad_lines_are_reported_by_number_and_the_rest_completes(engine, tmp_path):
    bad = {3: '{"case_id": "broken"', 40: "[]", 77: '{"case_id": "x", "request_date": "2015-01-01", "requested_items": []}'}
    path, lines = _batch_file(engine, tmp_path, bad)
    out, err = io.StringIO(), io.StringIO()
    counts = run_batch(engine, path, out, workers=1, err=err, progress=False)
    assert counts["cases"] == len(lines) - len(bad) and counts["bad_lines"] == len(bad)
    reported = {int(line.split(":")[1]) for line in err.getvalue().splitlines()}
    assert reported == set(bad)
    assert all(line.startswith(f"{path}:") for line in err.getvalue().splitlines())
    decided = [json.loads(x) for x in out.getvalue().splitlines()]
    good = [json.loads(x)["case_id"] for n, x in enumerate(lines, 1) if n not in bad]
    assert [d["case_id"] for d in decided] == good  # input order, every good line


def test_two_workers_give_the_same_bytes_as_one(engine, tmp_path):
    path, _ = _batch_file(engine, tmp_path, {5: "not json"})
    one, two = io.StringIO(), io.StringIO()
    run_batch(engine, path, one, workers=1, err=io.StringIO(), progress=False)
    run_batch(engine, path, two, workers=2, err=io.StringIO(), progress=False)
    assert one.getvalue() == two.getvalue() and one.getvalue()


def test_a_fresh_process_gives_the_same_bytes(engine, tmp_path):
    """Determinism across processes (another hash seed, another durable-rules state)."""
    path, _ = _batch_file(engine, tmp_path, {})
    here = io.StringIO()
    run_batch(engine, path, here, workers=1, err=io.StringIO(), progress=False)
    child = subprocess.run([sys.executable, "-m", "engine", "batch", str(path), "--no-progress"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300, env={"PYTHONHASHSEED": "12345", "PATH": ""})
    assert child.returncode == 0, child.stderr
    assert child.stdout == here.getvalue()
    assert child.stderr.startswith("batch: 120 cases decided")


def test_batch_command_exit_codes_and_summary(tmp_path, capsys):
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"case_id": "a", "request_date": "2015-06-10", "requested_items": [
                        {"type": "therapy", "id": "pt", "description": "PT 2x4", "service": "physical_therapy",
                         "region": "lumbar", "frequency_per_week": 2, "duration_weeks": 4}]}) + "\n\n")
    assert main(["batch", str(path), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["items"][0]["item_id"] == "pt"
    assert captured.err.startswith("batch: 1 case decided (1 item), 0 bad lines")
    assert main(["batch", str(tmp_path / "missing.jsonl")]) == 2


def test_bench_reports_the_tracked_figures(engine):
    figures = bench(engine, 40, seed=3, warmup=5)
    for key in ("items_per_s", "p50_ms", "p99_ms", "peak_rss_mb", "floor_ratio"):
        assert figures[key] > 0, key
    assert figures["p99_ms"] >= figures["p50_ms"]
    assert figures["cases"] == 40 and figures["items"] >= 40


def test_no_rationale_leaves_out_only_the_rationale(engine, tmp_path, capsys):
    src = tmp_path / "cases.jsonl"
    src.write_text("\n".join(generate_lines(engine.base.vocabulary, 300, seed=11)) + "\n")
    full, bare = tmp_path / "full.jsonl", tmp_path / "bare.jsonl"
    assert main(["batch", str(src), "-o", str(full), "--no-progress"]) == 0
    assert main(["batch", str(src), "-o", str(bare), "--no-progress", "--no-rationale"]) == 0
    rendered = 0
    for a, b in zip(full.read_text().splitlines(), bare.read_text().splitlines(), strict=True):
        a, b = json.loads(a), json.loads(b)
        for x, y in zip(a["items"], b["items"], strict=True):
            decided = x["decision"] in ("Upheld", "Overturned")
            rendered += decided and bool(x["rationale"])
            assert y["rationale"] == ("" if decided else x["rationale"])
            for item in (x, y):  # the prospective-review reason is rendered from rationales too
                if item.get("prospective_review"):
                    assert item is x or item["prospective_review"].pop("reason") == ""
                    item["prospective_review"].pop("reason", None)
            assert {k: v for k, v in x.items() if k != "rationale"} == {k: v for k, v in y.items() if k != "rationale"}
    assert rendered > 100  # the full run did render rationales
