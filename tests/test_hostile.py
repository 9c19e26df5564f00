"""The hostile-input suite (issue 13): every command over more than a hundred hostile inputs (case
files, folders, special files, rule packs, batch lines and outputs, git revisions), each run in its
own process under a 1.5 GB address-space cap and a time limit (tests/hostile_runner.py forks them
from one warm process, a few at a time; those marked fresh start a new interpreter).

Each input must end with the exit code of bad input (2; `imr validate` reports the problems it was
asked to find with 1) and at least one positioned `path:line:col: CODE message` line, every other
line of that stream being the command's summary; no traceback; no file changed but the output
the command was told to write; and no output that looks complete when it is not (nothing on
standard output for a refused file; a batch prints only whole records, as many as its summary
counts, and its summary counts the bad lines)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from .conftest import ROOT, SEED

LINE = re.compile(r"^[^\n]+:\d+:\d+: [A-Z]\d{3} .+$")
LIMIT = 1_500_000_000
POOL = 2  # children at a time (the CI machine has two cores)

SEED_TEXT = SEED.read_text()
HEAD = "case_id: hostile\nrequest_date: 2015-06-10\n"
ITEM = "  - {type: therapy, id: %s, description: PT, service: physical_therapy, region: lumbar, visits: %s}\n"


def case(extra: str = "", visits="8") -> str:
    return HEAD + extra + "requested_items:\n" + ITEM % ("a", visits)


def bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join(f'*a{n - 1}' for _ in range(10))}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n" + case(f"summary: *a{levels - 1}\n")


def sparse(size: int, head: bytes = b"", tail: bytes = b""):
    """A file writer: `head`, then `size` NUL bytes without writing them (a sparse file), then `tail`."""
    def write(path: Path):
        with open(path, "wb") as f:
            f.write(head)
            f.truncate(len(head) + size)
            f.seek(0, os.SEEK_END)
            f.write(tail)
    return write


def fifo(path: Path):
    os.mkfifo(path)


def unix_socket(path: Path):
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()  # the socket file stays


@dataclass
class Hostile:
    id: str
    argv: list[str]  # "{w}" is the input's own folder
    files: dict[str, object] = field(default_factory=dict)  # name -> text, bytes or a writer(path)
    exit: int = 2
    codes: tuple[str, ...] = ()  # one of these must be among the positioned lines
    output: str | None = None  # the one file the command may write (a name in the folder)
    stdin: str | None = None
    append_stdout_to: str | None = None  # standard output appended to this file of the folder
    fresh: bool = False  # a new interpreter instead of a fork of the warm runner
    timeout: float = 30
    check: Callable | None = None  # further assertions: check(folder, out, err)

    @property
    def command(self) -> str:
        return self.argv[0]


# ---------------------------------------------------------------- the inputs

CASE_FILES = {
    "empty": "",
    "only comments": "# nothing here\n# at all\n",
    "random bytes": bytes(range(256)) * 4,
    "NUL bytes": case("summary: a\x00b\n"),
    "invalid UTF-8": b"case_id: \xff\xfe\xfa\n",
    "UTF-16": case().encode("utf-16"),
    "truncated seed": SEED_TEXT[: len(SEED_TEXT) // 2],
    "cut inside a quoted string": case('summary: "never closed\n'),
    "alias bomb": bomb(),
    "deep flow nesting": case("summary: " + "[" * 5000 + "]" * 5000 + "\n"),
    "deep block nesting": case("summary:\n" + "".join("  " * n + f"k{n}:\n" for n in range(300))),
    "2.4 million values": "summary: [" + ",".join(["1"] * 2_400_000) + "]\n",
    "1.2 million block items": "summary:\n" + "- 1\n" * 1_200_000,
    "450,000 keys": "".join(f"k{n}: {n % 10}\n" for n in range(450_000)),
    "6 MB file": case("summary: " + "x" * 6_000_000 + "\n"),
    "merge key": "base: &b {case_id: m}\n<<: *b\nrequest_date: 2015-06-10\n",
    "nested merge key": case("injured_worker:\n  <<: {age: 40}\n"),
    "merge key list": "a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\n" + case(),
    "python tag": case("summary: !!python/object/apply:os.system [echo owned]\n"),
    "binary tag": case("summary: !!binary aGVsbG8=\n"),
    "unknown tag": case("summary: !owned 1\n"),
    "set": case("summary: !!set {a, b}\n"),
    "duplicate key": case("case_id: again\n"),
    "complex key": case("? [a, b]\n: 1\n"),
    "null key": case("~: 1\n"),
    "two documents": case() + "---\n" + case(),
    "undefined alias": case("summary: *nowhere\n"),
    "integer of 5000 digits": case(visits="9" * 5000),
    "float overflow": case(visits="1e999"),
    "NaN visits": case(visits=".nan"),
    "negative visits": case(visits="-8"),
    "request in 2999": "case_id: x\nrequest_date: 2999-01-01\nrequested_items:\n" + ITEM % ("a", "8"),
    "February 30": "case_id: x\nrequest_date: 2015-02-30\nrequested_items:\n" + ITEM % ("a", "8"),
    "timestamp date": "case_id: x\nrequest_date: 2015-06-10T10:00:00\nrequested_items:\n" + ITEM % ("a", "8"),
    "1,000 items": HEAD + "requested_items:\n" + "".join(ITEM % (f"i{n}", "8") for n in range(1_000)),
    "101 items": HEAD + "requested_items:\n" + "".join(ITEM % (f"i{n}", "8") for n in range(101)),
    "repeated item ids": HEAD + "requested_items:\n" + ITEM % ("a", "8") + ITEM % ("a", "6"),
    "a list": "- just\n- a list\n",
    "a scalar": "just words\n",
    "items not a list": case().replace("requested_items:\n" + ITEM % ("a", "8"), "requested_items: nope\n"),
    "unknown field": case("favourite_colour: blue\n"),
    "raw escape byte": case("summary: \x1b[2J\n"),
    "tab indentation": "case_id: x\nrequested_items:\n\t- type: therapy\n",
    "injury after request": case("injured_worker: {date_of_injury: 2016-01-01}\n"),
    "expected names a missing item": case("expected: {nope: Upheld}\n"),
}

CASE_CODES = {  # the code each must be reported with
    "empty": "Y008", "only comments": "Y008", "random bytes": "Y001", "NUL bytes": "Y001", "invalid UTF-8": "Y001", "UTF-16": "Y001",
    "truncated seed": "E002", "cut inside a quoted string": "Y002", "alias bomb": "Y003", "deep flow nesting": "Y004",
    "deep block nesting": "Y004", "2.4 million values": "Y003", "1.2 million block items": "Y003", "450,000 keys": "Y003",
    "6 MB file": "Y001", "merge key": "Y005", "nested merge key": "Y005", "merge key list": "Y005", "python tag": "E002",
    "binary tag": "E002", "unknown tag": "Y007", "set": "E002", "duplicate key": "Y006", "complex key": "Y005", "null key": "Y005",
    "two documents": "Y002", "undefined alias": "Y002", "integer of 5000 digits": "Y007", "float overflow": "E002",
    "NaN visits": "E002", "negative visits": "E002", "request in 2999": "E002", "February 30": "Y007", "timestamp date": "E002",
    "1,000 items": "E002", "101 items": "E002", "repeated item ids": "E002", "a list": "E001", "a scalar": "E001",
    "items not a list": "E002", "unknown field": "E002", "raw escape byte": "Y002", "tab indentation": "Y002",
    "injury after request": "E002", "expected names a missing item": "E002",
}

EXPLAIN_FILES = ["random bytes", "alias bomb", "2.4 million values", "merge key", "deep flow nesting", "integer of 5000 digits"]
VALIDATE_FILES = ["invalid UTF-8", "alias bomb", "450,000 keys", "merge key", "nested merge key", "python tag", "raw escape byte", "6 MB file"]
TEST_FILES = ["truncated seed", "merge key list", "1.2 million block items", "duplicate key"]


def _case_inputs() -> list[Hostile]:
    out = [Hostile(f"decide {name}", ["decide", "{w}/case.yaml"], {"case.yaml": text}, codes=(CASE_CODES[name],)) for name, text in CASE_FILES.items()]
    out += [Hostile(f"explain {name}", ["explain", "{w}/case.yaml"], {"case.yaml": CASE_FILES[name]}, codes=(CASE_CODES[name],)) for name in EXPLAIN_FILES]
    out += [Hostile(f"validate {name}", ["validate", "{w}/case.yaml"], {"case.yaml": CASE_FILES[name]}, exit=1, codes=(CASE_CODES[name],))
            for name in VALIDATE_FILES]
    out += [Hostile(f"test {name}", ["test", "{w}/case.yaml"], {"case.yaml": CASE_FILES[name]}, codes=(CASE_CODES[name],)) for name in TEST_FILES]
    out.append(Hostile("decide merge key, fresh process", ["decide", "{w}/case.yaml"], {"case.yaml": CASE_FILES["merge key"]}, codes=("Y005",), fresh=True))
    out.append(Hostile("decide 2.4 million values, fresh process", ["decide", "{w}/case.yaml"], {"case.yaml": CASE_FILES["2.4 million values"]}, codes=("Y003",), fresh=True))
    out.append(Hostile("explain unknown item", ["explain", str(SEED), "--item", "nope"], codes=("E005",)))
    return out


def _special_inputs() -> list[Hostile]:
    out = []
    for command, exit_ in (("decide", 2), ("explain", 2), ("validate", 1), ("test", 2)):
        out.append(Hostile(f"{command} a FIFO", [command, "{w}/case.yaml"], {"case.yaml": fifo}, exit=exit_, codes=("Y000",)))
    for device in ("/dev/zero", "/dev/urandom", "/dev/null"):
        out.append(Hostile(f"decide {device}", ["decide", device], codes=("Y000",)))
    out += [
        Hostile("validate /dev/zero", ["validate", "/dev/zero"], exit=1, codes=("Y000",)),
        Hostile("decide /dev/zero, fresh process", ["decide", "/dev/zero"], codes=("Y000",), fresh=True),
        Hostile("explain a FIFO, fresh process", ["explain", "{w}/case.yaml"], {"case.yaml": fifo}, codes=("Y000",), fresh=True),
        Hostile("decide a socket", ["decide", "{w}/case.yaml"], {"case.yaml": unix_socket}, codes=("Y000",)),
        Hostile("decide a folder", ["decide", "{w}"], codes=("Y000",)),
        Hostile("explain a folder", ["explain", "{w}"], codes=("Y000",)),
        Hostile("decide a symbolic link loop", ["decide", "{w}/loop.yaml"], {"loop.yaml": lambda p: p.symlink_to(p)}, codes=("Y000",)),
        Hostile("decide a dangling link", ["decide", "{w}/gone.yaml"], {"gone.yaml": lambda p: p.symlink_to(p.parent / "nowhere")}, codes=("Y000",)),
        Hostile("decide a link to /dev/zero", ["decide", "{w}/zero.yaml"], {"zero.yaml": lambda p: p.symlink_to("/dev/zero")}, codes=("Y000",)),
        Hostile("decide a sparse 1 GB file", ["decide", "{w}/case.yaml"], {"case.yaml": sparse(1 << 30, b"case_id: x\n")}, codes=("Y001",)),
        Hostile("batch a folder", ["batch", "{w}"], codes=("E000",)),
        Hostile("batch /dev/zero", ["batch", "/dev/zero"], codes=("E000",)),
        Hostile("batch a FIFO", ["batch", "{w}/cases.jsonl"], {"cases.jsonl": fifo}, codes=("E000",)),
        Hostile("batch a missing file", ["batch", "{w}/nope.jsonl"], codes=("E000",)),
    ]
    return out


def _folder(**files) -> dict:
    return {f"cases/{name}": text for name, text in files.items()}


def _folder_inputs() -> list[Hostile]:
    good = {"a_seed.yaml": SEED_TEXT}
    mixes = {
        "a merge key": ({"b_merge.yaml": CASE_FILES["merge key"]}, "Y005"),
        "random bytes": ({"b_bytes.yaml": CASE_FILES["random bytes"]}, "Y001"),
        "an alias bomb": ({"b_bomb.yaml": CASE_FILES["alias bomb"]}, "Y003"),
        "deep nesting": ({"b_deep.yaml": CASE_FILES["deep flow nesting"]}, "Y004"),
        "2.4 million values": ({"b_many.yaml": CASE_FILES["2.4 million values"]}, "Y003"),
        "a bad file deep inside": ({"x/y/z/b_bad.yaml": CASE_FILES["a list"]}, "E001"),
        "a python tag and a merge key": ({"b_tag.yaml": CASE_FILES["python tag"], "c_merge.yaml": CASE_FILES["nested merge key"]}, "Y005"),
    }
    out = []
    for name, (files, code) in mixes.items():
        both = _folder(**good, **files)
        bad = sorted(files)

        def reports_each(folder, out_, err, bad=bad, stream="out"):
            text = out_ if stream == "out" else err
            for b in bad:
                assert f"{folder}/cases/{b}:" in text, (b, text)

        def test_summary(folder, out_, err, bad=bad):
            reports_each(folder, out_, err, bad, "err")
            assert re.search(r"^[1-9]\d* passed, 0 failed\b.*\b%d invalid case files?\b" % len(bad), out_, re.M), out_

        out.append(Hostile(f"validate folder with {name}", ["validate", "{w}/cases"], both, exit=1, codes=(code,), check=reports_each))
        out.append(Hostile(f"test folder with {name}", ["test", "{w}/cases"], both, codes=(code,), check=test_summary))
    return out


def _rules(mutate: Callable[[Path], None]):
    """A writer of a copy of the project's rules folder with one file mutated."""
    def write(path: Path):
        shutil.copytree(ROOT / "guideline_rules", path)
        mutate(path)
    return write


def _pack_text(text: str, pack: str = "mtus-cpmtg-2009-tens.yaml"):
    def mutate(root: Path):
        (root / "packs" / pack).write_text(text if not callable(text) else text((root / "packs" / pack).read_text()))
    return mutate


def _rule_inputs() -> list[Hostile]:
    mutations = {  # how the rules are damaged, and the code that must report it
        "a merge key in a pack": (_pack_text(lambda t: t + "extra: &x {a: 1}\nmore:\n  <<: *x\n"), "Y005"),
        "a truncated pack": (_pack_text(lambda t: t[: len(t) // 3]), None),  # whatever the cut leaves out
        "random bytes as a pack": (lambda root: (root / "packs" / "mtus-cpmtg-2009-tens.yaml").write_bytes(bytes(range(256))), "Y001"),
        "an alias bomb as a pack": (_pack_text(bomb()), "Y003"),
        "a python tag in a pack": (_pack_text(lambda t: t + "owned: !!python/object/apply:os.system [echo owned]\n"), "R001"),
        "an empty pack": (_pack_text(""), "Y008"),
        "a pack that is a list": (_pack_text("- a\n- b\n"), "R001"),
        "2.4 million values in a pack": (_pack_text("x: [" + ",".join(["1"] * 2_400_000) + "]\n"), "Y003"),
        "a FIFO as the vocabulary": (lambda root: ((root / "vocabulary" / "drugs.yaml").unlink(), os.mkfifo(root / "vocabulary" / "drugs.yaml")), "Y000"),
        "a merge key in a profile": (lambda root: (root / "profiles" / "texas.yaml").write_text(
            (root / "profiles" / "texas.yaml").read_text() + "x: &x {a: 1}\ny:\n  <<: *x\n"), "Y005"),
        "binary vocabulary": (lambda root: (root / "vocabulary" / "services.yaml").write_bytes(b"\x00\xff" * 100), "Y001"),
        "code in a condition": (_pack_text(lambda t: t.replace("    when: ", "    when: \"__import__('os').system('echo owned')\" # ", 1)), "C001"),
        "no packs folder": (lambda root: shutil.rmtree(root / "packs"), "L001"),
    }
    out = []
    for name, (mutate, code) in mutations.items():
        files = {"rules": _rules(mutate)}
        codes = (code,) if code else ()
        out.append(Hostile(f"decide with {name}", ["decide", str(SEED), "--rules", "{w}/rules"], files, codes=codes, timeout=60))
        if name not in ("a FIFO as the vocabulary", "binary vocabulary", "no packs folder"):
            out.append(Hostile(f"validate {name}", ["validate", "{w}/rules"], files, exit=1, codes=codes, timeout=60))
    out.append(Hostile("decide with rules that are a file", ["decide", str(SEED), "--rules", "{w}/rules"], {"rules": "not a folder\n"}, codes=("L001",)))
    return out


GOOD: list[bytes] = []  # two generated cases, drawn when the inputs are written (the fixture fills it)


def _with_good(middle):
    """A writer of a batch file: a good line, `middle` (bytes, or a writer of it), a good line."""
    def write(path: Path):
        if callable(middle):
            middle(path)
        else:
            path.write_bytes(GOOD[0] + b"\n" + middle + b"\n" + GOOD[1] + b"\n")
    return write


def _two(path: Path):
    path.write_bytes(GOOD[0] + b"\n" + GOOD[1] + b"\n")


BATCH_LINES = {
    "invalid JSON": b'{"case_id": "broken"',
    "a JSON array": b"[1, 2, 3]",
    "a JSON string": b'"just a string"',
    "JSON null": b"null",
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "an integer of 5000 digits": b'{"case_id": "x", "request_date": "2015-01-01", "requested_items": [{"type": "therapy", "visits": ' + b"9" * 5000 + b"}]}",
    "1e999": b'{"case_id": 1e999}',
    "NaN": b'{"case_id": "x", "request_date": "2015-01-01", "requested_items": [{"type": "therapy", "id": "a", "description": "PT", "service": "physical_therapy", "region": "lumbar", "visits": NaN}]}',
    "invalid UTF-8": b"\xff\xfe garbage \xc3",
    "NUL bytes": b'{"case_id": "a\x00b"}',
    "a lone surrogate": b'{"case_id": "\\ud800", "request_date": "2015-01-01", "requested_items": []}',
    "a byte order mark": b'\xef\xbb\xbf{"case_id": "x"}',
    "empty items": b'{"case_id": "x", "request_date": "2015-01-01", "requested_items": []}',
    "a bad date": b'{"case_id": "x", "request_date": "\x1b[2J", "requested_items": [{"type": "therapy", "id": "a", "description": "PT", "service": "physical_therapy", "region": "lumbar", "visits": 8}]}',
    "10,000 items": b'{"case_id": "x", "request_date": "2015-01-01", "requested_items": [' + b", ".join(
        json.dumps({"type": "therapy", "id": f"i{n}", "description": "PT", "service": "physical_therapy", "region": "lumbar", "visits": 8}).encode()
        for n in range(10_000)) + b"]}",
    "a 6 MB line": b'{"case_id": "' + b"x" * 6_000_000 + b'"}',
}


def _batch_inputs() -> list[Hostile]:
    def records(n_bad: int, line: int):
        def check(folder, out, err):
            lines = out.splitlines()
            assert len(lines) == 2 and all(json.loads(x)["items"] for x in lines), out  # whole records only
            assert [json.loads(x)["case_id"] for x in lines] == [json.loads(g)["case_id"] for g in GOOD]
            problems = [x for x in err.splitlines() if LINE.match(x)]
            assert {int(x.split(":")[1]) for x in problems} == {line}, err
            assert re.search(rf"^batch: 2 cases decided .*, {n_bad} bad lines?,", err, re.M), err
        return check

    out = [Hostile(f"batch line: {name}", ["batch", "{w}/cases.jsonl", "--no-progress"],
                   {"cases.jsonl": _with_good(text)}, codes=("E001", "E002", "E003"), check=records(1, 2))
           for name, text in BATCH_LINES.items()]
    out.append(Hostile("batch line: 200 MB", ["batch", "{w}/cases.jsonl", "--no-progress", "--workers", "2"],
                       {"cases.jsonl": lambda p: sparse(200_000_000, GOOD[0] + b"\n", b"\n" + GOOD[1] + b"\n")(p)}, codes=("E003",),
                       check=records(1, 2), timeout=60))
    two = _two

    def untouched_input(folder, out_, err):
        assert (folder / "cases.jsonl").read_bytes() == GOOD[0] + b"\n" + GOOD[1] + b"\n"

    out += [
        Hostile("batch -o its input", ["batch", "{w}/cases.jsonl", "-o", "{w}/cases.jsonl"], {"cases.jsonl": two}, codes=("B001",), check=untouched_input),
        Hostile("batch -o a hard link of its input", ["batch", "{w}/cases.jsonl", "-o", "{w}/link.jsonl"],
                {"cases.jsonl": two, "link.jsonl": lambda p: os.link(p.parent / "cases.jsonl", p)}, codes=("B001",), check=untouched_input),
        Hostile("batch -o a symbolic link to its input", ["batch", "{w}/cases.jsonl", "-o", "{w}/sym.jsonl", "--workers", "2"],
                {"cases.jsonl": two, "sym.jsonl": lambda p: p.symlink_to("cases.jsonl")}, codes=("B001",), check=untouched_input),
        Hostile("batch -o its input, fresh process", ["batch", "cases.jsonl", "-o", "./cases.jsonl"], {"cases.jsonl": two}, codes=("B001",),
                check=untouched_input, fresh=True),
        Hostile("batch appending to its input", ["batch", "{w}/cases.jsonl"], {"cases.jsonl": two}, append_stdout_to="cases.jsonl",
                codes=("B001",), check=untouched_input),
        Hostile("batch -o a folder", ["batch", "{w}/cases.jsonl", "-o", "{w}/out"], {"cases.jsonl": two, "out/keep": "x"}, codes=("E000",)),
        Hostile("batch -o in a missing folder", ["batch", "{w}/cases.jsonl", "-o", "{w}/no/such/out.jsonl"], {"cases.jsonl": two}, codes=("E000",)),
        Hostile("batch -o /dev/full", ["batch", "{w}/cases.jsonl", "-o", "/dev/full"], {"cases.jsonl": two}, codes=("E000",)),
        Hostile("batch --resume from another input's output", ["batch", "{w}/cases.jsonl", "-o", "{w}/out.jsonl", "--resume"],
                {"cases.jsonl": two, "out.jsonl": '{"case_id": "someone else", "request_date": "2015-01-01", "items": []}\n'}, codes=("B002",)),
        Hostile("batch --resume without -o", ["batch", "{w}/cases.jsonl", "--resume"], {"cases.jsonl": two}, codes=("B002",)),
        Hostile("batch of bad lines only, to a file", ["batch", "{w}/cases.jsonl", "-o", "{w}/out.jsonl"],
                {"cases.jsonl": b"[]\n{}\nnull\n"}, codes=("E001", "E002", "E003"), output="out.jsonl",
                check=lambda folder, out_, err: (folder / "out.jsonl").read_bytes() == b"" and "3 bad lines" in err),
    ]
    return out


def _victim(folder, out, err):
    assert (folder / "victim.txt").read_text() == "keep me\n"


def _diff_inputs() -> list[Hostile]:
    victim = {"victim.txt": "keep me\n"}
    revisions = {
        "-o into a file": "--base=-o{w}/victim.txt",
        "--output= a file": "--base=--output={w}/victim.txt",
        "--remote": "--base=--remote={w}/victim.txt",
        "--exec": "--base=--exec=touch {w}/victim.txt",
        "an unknown revision": "--base=no-such-revision-3f9a",
        "a tree, not a commit": "--base=HEAD:guideline_rules",
        "a revision range": "--base=HEAD~1..HEAD",
        "a terminal escape": "--base=\x1b[2Jrev",
        "an empty revision": "--base=",
        "a revision far back": "--base=HEAD~999999",
        "a dash": "--base=-",
    }
    out = [Hostile(f"diff base {name}", ["diff", arg, "--repo", str(ROOT)], victim, codes=("D001",), check=_victim) for name, arg in revisions.items()]
    out += [
        Hostile("diff head -o into a file", ["diff", "--base=HEAD", "--head=-o{w}/victim.txt", "--repo", str(ROOT)], victim, codes=("D001",), check=_victim),
        Hostile("diff rules path -o into a file", ["diff", "--base=HEAD", "--rules-path=-o{w}/victim.txt", "--repo", str(ROOT)], victim,
                codes=("D001",), check=_victim),
        Hostile("diff rules path outside the repository", ["diff", "--base=HEAD", "--rules-path=../../etc", "--repo", str(ROOT)], victim,
                codes=("D001",), check=_victim),
        Hostile("diff in a folder that is no repository", ["diff", "--base=HEAD", "--repo", "{w}"], victim, codes=("D001",), check=_victim),
        Hostile("diff -o into a file, fresh process", ["diff", "--base=-o{w}/victim.txt", "--repo", str(ROOT)], victim, codes=("D001",),
                check=_victim, fresh=True),
    ]
    return out


def inputs() -> list[Hostile]:
    return _case_inputs() + _special_inputs() + _folder_inputs() + _rule_inputs() + _batch_inputs() + _diff_inputs()


# ---------------------------------------------------------------- running them

def _snapshot(folder: Path) -> dict:
    """Every entry under `folder`: kind, size, modification time and (for small files) a hash."""
    out = {}
    for path in [folder, *folder.rglob("*")]:
        st = path.lstat()
        digest = ""
        if path.is_file() and not path.is_symlink() and st.st_size <= 10_000_000 and st.st_blocks * 512 >= st.st_size // 2:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        out[str(path.relative_to(folder))] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return out


def _write(path: Path, content) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if callable(content):
        content(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


@dataclass
class Outcome:
    spec: Hostile
    folder: Path
    code: int
    timed_out: bool
    seconds: float
    out: str
    err: str
    before: dict
    after: dict


class Runner:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "hostile_runner.py"), str(POOL)], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run_all(self, requests: list[dict]) -> dict[str, dict]:
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}  # it has built its engine
        feeder = threading.Thread(target=self._feed, args=(requests,))
        feeder.start()
        results = {}
        for _ in requests:
            reply = json.loads(self.proc.stdout.readline())
            results[reply["id"]] = reply
        feeder.join()
        return results

    def _feed(self, requests):
        for request in requests:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def outcomes(engine, tmp_path_factory) -> dict[str, Outcome]:
    runner = Runner()  # builds its engine while the inputs are written
    try:
        return _run_inputs(engine, runner, tmp_path_factory.mktemp("hostile"), tmp_path_factory.mktemp("hostile-io"))
    finally:
        runner.close()


def _run_inputs(engine, runner: Runner, root: Path, io_dir: Path) -> dict[str, Outcome]:
    from engine.ops.generator import generate_lines

    GOOD[:] = [line.encode() for line in generate_lines(engine.base.vocabulary, 2, seed=31)]
    specs = inputs()
    assert len({s.id for s in specs}) == len(specs)
    folders, requests = {}, []
    for n, spec in enumerate(specs):
        folder = root / f"{n:03d}"
        folder.mkdir()
        for name, content in spec.files.items():
            _write(folder / name, content)
        folders[spec.id] = folder
        argv = [a.replace("{w}", str(folder)) for a in spec.argv]
        stdout = str(folder / spec.append_stdout_to) if spec.append_stdout_to else str(io_dir / f"{n:03d}.out")
        requests.append({"id": spec.id, "argv": argv, "cwd": str(folder), "stdin": spec.stdin, "stdout": stdout,
                         "append": bool(spec.append_stdout_to), "stderr": str(io_dir / f"{n:03d}.err"),
                         "timeout": spec.timeout, "limit": LIMIT, "fresh": spec.fresh})
    before = {spec.id: _snapshot(folders[spec.id]) for spec in specs}
    replies = runner.run_all(requests)
    out = {}
    for n, spec in enumerate(specs):
        reply = replies[spec.id]
        stdout = "" if spec.append_stdout_to else (io_dir / f"{n:03d}.out").read_text(errors="replace")
        out[spec.id] = Outcome(spec, folders[spec.id], reply["code"], reply["timed_out"], reply["seconds"], stdout,
                               (io_dir / f"{n:03d}.err").read_text(errors="replace"), before[spec.id], _snapshot(folders[spec.id]))
    return out


def _spec_ids() -> list[str]:
    return [s.id for s in inputs()]


SUMMARY = {
    "validate": re.compile(r"^\d+ rules?, \d+ case files? valid; [1-9]\d* problems?(, \d+ warnings?)?$"),
    "batch": re.compile(r"^batch: \d+ cases? decided .*, [1-9]\d* bad lines?, .*workers \d+$"),
}


def test_the_suite_has_over_a_hundred_hostile_inputs():
    assert len(_spec_ids()) >= 100 and len(set(_spec_ids())) == len(_spec_ids())


@pytest.mark.parametrize("name", _spec_ids())
def test_hostile_input(outcomes, name):
    o = outcomes[name]
    spec = o.spec
    assert not o.timed_out, f"no end within {spec.timeout} s"
    assert "Traceback" not in o.err and "Traceback" not in o.out, o.err
    assert o.code == spec.exit, f"exit {o.code}: {o.err[-2000:]}"
    # where the positioned lines are, and what else that stream may hold
    if spec.command == "validate":
        report, others = o.out, o.err.strip().splitlines()
        assert len(others) == 1 and SUMMARY["validate"].match(others[0]), o.err
    elif spec.command == "test":
        report = o.err
        assert re.search(r"^\d+ passed, \d+ failed\b.*\b[1-9]\d* invalid case files?\b", o.out, re.M), o.out
    else:
        report = o.err
    lines = report.strip().splitlines()
    if spec.command == "batch" and lines and lines[-1].startswith("batch: "):
        summary = lines.pop()
        assert SUMMARY["batch"].match(summary), summary
    assert lines, "no positioned line"
    assert all(LINE.match(x) for x in lines), report[-2000:]
    if spec.codes:
        assert any(f" {c} " in x for x in lines for c in spec.codes), report[-2000:]
    if spec.command in ("decide", "explain", "diff", "docs"):
        assert o.out == "", "output for input that was refused"
    if spec.command == "batch":  # only whole records, as many as the summary says were decided
        records = [json.loads(x) for x in o.out.splitlines()]
        assert all(isinstance(r, dict) and "items" in r for r in records), o.out[:2000]
        decided = re.search(r"^batch: (\d+) cases? decided", o.err, re.M)
        assert len(records) == (0 if "-o" in spec.argv or not decided else int(decided.group(1))), o.err[-2000:]
    changed = {k for k in o.before.keys() | o.after.keys() if o.before.get(k) != o.after.get(k) and k != "."}
    allowed = {spec.output} if spec.output else set()
    assert changed <= allowed, f"files changed: {sorted(changed - allowed)}"
    if spec.check:
        assert spec.check(o.folder, o.out, o.err) is not False
