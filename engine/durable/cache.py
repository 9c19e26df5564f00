"""Compiled rule bases cached on disk, so that a fresh process starts without reading, checking and
compiling the rules folder again (about three quarters of `imr decide`'s start before).

What is cached: the checked RuleBase and its CompiledRules, pickled, in
`$XDG_CACHE_HOME/imr-rules-engine/` (else `~/.cache/imr-rules-engine/`). An entry is keyed by:
- the rules digest: the folder as given (the positions and paths its diagnostics quote) and the
  name and bytes of every file the loader reads (`packs/`, `profiles/`, `vocabulary/`), each read
  with its limits checked (load/files.py: never a FIFO, a device or an oversized file);
- the engine version: the bytes of every module of the engine package, the Python version, the
  versions of the libraries whose objects are pickled (pydantic, jinja2, lark) and the ICD-10-CM
  code set the vocabulary was checked against.

Never trusted: an entry is read only from a folder and a file that belong to this user and that
nobody else may write; its header must name the key asked for and the SHA-256 of what follows, and
the bytes must have that digest before they are unpickled; what is unpickled must be a RuleBase and
its CompiledRules. Anything else (stale, truncated, corrupt, another version, an unreadable folder)
is ignored: the rules are loaded, checked and compiled as without a cache, and the entry is
written again (atomically: a temporary file renamed over it). At most `KEEP` entries are kept, the
least recently used deleted. `IMR_NO_CACHE=1` turns the cache off.

Rationale templates (jinja2, compiled in the rule base) are pickled as the code of their render
function, rebuilt on load in the same sandboxed environment (language/templates.py); a template of
any other kind makes the rule base uncacheable, and it is then simply not cached.
"""

from __future__ import annotations

import copyreg
import hashlib
import io
import marshal
import os
import pickle
import stat
import sys
import tempfile
import types
from functools import lru_cache
from pathlib import Path

from engine.checks.rulebase import RuleBase, load_rule_base
from engine.durable.compile import CompiledRules, compile_rules
from engine.load.files import read_bounded
from engine.load.paths import RulesLocation, locate
from engine.load.rules_folder import yaml_files
from engine.load.yaml_source import MAX_BYTES
from engine.model.diagnostics import InputError
from engine.model.icd10 import code_set_file

FORMAT = b"imr-rules-cache 1"
KEEP = 8
"""Entries kept (one per rules folder and version): the least recently used beyond these are deleted."""
MAX_ENTRY_BYTES = 512 * 2**20
FOLDERS = ("packs", "profiles", "vocabulary")
"""What the loader reads of a rules folder (load/rules_folder.py): every .yaml and .yml file of these."""


def cache_dir() -> Path | None:
    """Where entries live; None when the cache is turned off."""
    if os.environ.get("IMR_NO_CACHE", "") not in ("", "0"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "imr-rules-engine"


@lru_cache(maxsize=1)
def engine_version() -> str:
    """The engine's code and what its pickled objects depend on, as one digest."""
    import jinja2  # start-up cost: none (already loaded by the rule base's modules); for their versions
    import lark
    import pydantic

    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    icd = code_set_file()
    icd_id = f"{icd.name}:{icd.stat().st_size}" if icd is not None else "library"
    for part in (sys.version, sys.implementation.cache_tag or "", pydantic.VERSION, jinja2.__version__, lark.__version__, icd_id):
        digest.update(str(part).encode() + b"\0")
    return digest.hexdigest()


def rules_key(root: Path | RulesLocation) -> str | None:
    """The key of a rules folder's entry (with the folders layered over it), or None when one of
    its files cannot be read within its limits (then the loader says why, and nothing is cached)."""
    where = locate(root)
    digest = hashlib.sha256(FORMAT + b"\0" + engine_version().encode() + b"\0")
    try:
        for top in where.folders():
            digest.update(b"folder\0" + os.fsencode(str(top)) + b"\0")
            for folder in FOLDERS:
                for path in yaml_files(top / folder):  # the very files the loader reads (.yaml and .yml)
                    digest.update(f"{folder}/{path.name}".encode() + b"\0" + read_bounded(path, MAX_BYTES) + b"\0")
    except (InputError, OSError, ValueError):
        return None
    return digest.hexdigest()


def _private(path: Path, st: os.stat_result | None = None) -> bool:
    """Belongs to this user and nobody else may write it (an entry is unpickled only from there)."""
    try:
        st = st or os.stat(path)
    except OSError:
        return False
    getuid = getattr(os, "getuid", None)
    return (getuid is None or st.st_uid == getuid()) and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _entry(folder: Path, key: str) -> Path:
    return folder / f"rules-{key[:32]}.cache"


def read(key: str) -> tuple[RuleBase, CompiledRules] | None:
    """The entry for `key`, checked as the module says, or None."""
    folder = cache_dir()
    if folder is None or not _private(folder):
        return None
    path = _entry(folder, key)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or not _private(path, st):
            return None
        raw = read_bounded(path, MAX_ENTRY_BYTES)
        header, _, payload = raw.partition(b"\n")
        if header.split(b" ") != [*FORMAT.split(b" "), key.encode(), hashlib.sha256(payload).hexdigest().encode()]:
            return None  # another key, another format, or bytes that are not what was written
        value = pickle.loads(payload)
    except Exception:  # noqa: BLE001 (whatever the entry holds, it is only ignored and rebuilt)
        return None
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], RuleBase) and isinstance(value[1], CompiledRules)):
        return None
    try:
        os.utime(path)  # recently used: kept when older entries are deleted
    except OSError:
        pass
    return value


def write(key: str, value: tuple[RuleBase, CompiledRules]) -> bool:
    """Store an entry (False: not stored, e.g. an unpicklable value or a folder that cannot be written)."""
    folder = cache_dir()
    if folder is None:
        return False
    try:
        buffer = io.BytesIO()
        _pickler(buffer).dump(value)
        payload = buffer.getvalue()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(folder):
            return False
        header = b" ".join([FORMAT, key.encode(), hashlib.sha256(payload).hexdigest().encode()])
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".rules-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(header + b"\n" + payload)
            os.replace(tmp, _entry(folder, key))
        except BaseException:
            os.unlink(tmp)
            raise
        _prune(folder)
        return True
    except Exception:  # noqa: BLE001 (a cache that cannot be written is no cache: the engine works without it)
        return False


def _prune(folder: Path) -> None:
    entries = []
    for path in folder.glob("rules-*.cache"):
        try:
            entries.append((path.stat().st_mtime, path))
        except OSError:
            continue
    for _, path in sorted(entries, reverse=True)[KEEP:]:
        try:
            path.unlink()
        except OSError:
            pass


def cached_rules(root: str | Path | RulesLocation | None = None) -> tuple[RuleBase, CompiledRules]:
    """The checked and compiled rules of a folder (the project's by default) and its layers: from
    the cache when an entry for their exact files and this engine is there, else loaded, checked,
    compiled and stored."""
    root = locate(root)
    key = rules_key(root) if cache_dir() is not None else None
    if key is not None and (hit := read(key)) is not None:
        return hit
    base = load_rule_base(root)
    compiled = compile_rules(base)
    if key is not None and rules_key(root) == key:  # unchanged while it was loaded: the entry holds what the key names
        write(key, (base, compiled))
    return base, compiled


# ---------------------------------------------------------------- rationale templates

def _template_env():
    from engine.language.templates import _ENV  # start-up cost: none (loaded with the rule base); the one sandbox

    return _ENV


def _reduce_template(template):
    """A compiled rationale template as the code of its render function (what jinja2 compiled from
    the template's text), for `_template` to rebuild in the same environment."""
    import jinja2.runtime  # start-up cost: none (loaded with jinja2); what compiled templates read

    env = _template_env()
    root = template.root_render_func
    defaults = root.__defaults__ or ()
    if (template.environment is not env or template.blocks or root.__closure__ or root.__kwdefaults__
            or not all(d is jinja2.runtime.missing or d is env for d in defaults)):
        raise pickle.PicklingError("a template of another kind than the rule base's rationale templates")
    names = tuple("env" if d is env else "missing" for d in defaults)
    return _template, (marshal.dumps(root.__code__), names, template.name, template.filename, template._debug_info)


def _template(code: bytes, defaults: tuple, name, filename, debug_info):
    """A rationale template rebuilt from its render function's code (the inverse of `_reduce_template`)."""
    import jinja2.runtime  # start-up cost: none (loaded with jinja2); what compiled templates read

    env = _template_env()
    namespace = {"environment": env, "__file__": filename, "name": name, "blocks": {}, "debug_info": debug_info}
    namespace.update({n: getattr(jinja2.runtime, n) for n in jinja2.runtime.exported})
    argdefs = tuple(env if d == "env" else jinja2.runtime.missing for d in defaults)
    namespace["root"] = types.FunctionType(marshal.loads(code), namespace, "root", argdefs)
    return env.template_class._from_namespace(env, namespace, env.make_globals(None))


def _pickler(buffer) -> pickle.Pickler:
    """A pickler that writes rationale templates as `_reduce_template` says (any other object as pickle does)."""
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, _template_env().template_class: _reduce_template}
    return pickler
