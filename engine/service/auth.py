"""Who gets in: bearer tokens for the API and passwords for the page, each kept as a salted hash
in a file (never the secret itself), with a role: reviewer (decide, explain, record an action),
auditor (also read the decision log), admin (also reload the rules).

Tokens are 256-bit random strings, so a salted SHA-256 is as strong as a slow hash for them;
passwords are chosen by people, so they get scrypt (hashlib's, memory-hard). Comparisons are
constant-time. The file is written atomically with owner-only permissions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROLES = ("reviewer", "auditor", "admin")
RANK = {role: n for n, role in enumerate(ROLES)}
"""A role may do what the roles before it may."""

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def _token_hash(salt: str, token: str) -> str:
    return hashlib.sha256((salt + token).encode()).hexdigest()


def _password_hash(salt: str, password: str) -> str:
    return hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT).hex()


@dataclass
class Credential:
    name: str
    role: str
    kind: str
    """token | password"""
    salt: str
    hash: str


@dataclass
class Credentials:
    """The credentials file: who may call the API or log in to the page, and as what role."""

    path: Path
    entries: list[Credential] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> "Credentials":
        path = Path(path)
        if not path.exists():
            return cls(path)
        data = json.loads(path.read_text())
        return cls(path, [Credential(**e) for e in data.get("credentials", [])])

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".credentials-")
        with os.fdopen(fd, "w") as f:
            json.dump({"credentials": [asdict(e) for e in self.entries]}, f, indent=1)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def add_token(self, name: str, role: str) -> str:
        """A new token for `name` with `role`; the token is returned once and stored only hashed."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        token = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        self.entries.append(Credential(name, role, "token", salt, _token_hash(salt, token)))
        return token

    def add_password(self, name: str, role: str, password: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < 12:
            raise ValueError("a password has at least 12 characters")
        self.entries = [e for e in self.entries if not (e.kind == "password" and e.name == name)]
        salt = secrets.token_hex(16)
        self.entries.append(Credential(name, role, "password", salt, _password_hash(salt, password)))

    def has_admin(self) -> bool:
        return any(e.role == "admin" for e in self.entries)

    def by_token(self, token: str) -> Credential | None:
        """The credential a bearer token belongs to (every entry compared: no early exit to time)."""
        found = None
        for e in self.entries:
            if e.kind == "token" and hmac.compare_digest(e.hash, _token_hash(e.salt, token)):
                found = e
        return found

    def by_password(self, name: str, password: str) -> Credential | None:
        for e in self.entries:
            if e.kind == "password" and e.name == name:
                return e if hmac.compare_digest(e.hash, _password_hash(e.salt, password)) else None
        _password_hash("00" * 16, password)  # the same cost for an unknown name
        return None


def allows(credential: Credential, needed: str) -> bool:
    return RANK[credential.role] >= RANK[needed]
