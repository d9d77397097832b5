"""The web auth store: users with hashed passwords, sessions and the append-only audit log.

One SQLite file beside the warehouse (``phm-web.sqlite`` by default), never inside it: it
holds no patient data, and the pseudonymisation key is never here either.

- Passwords are hashed with Argon2id (``argon2-cffi``; governance.md: argon2/bcrypt).
- A session token is 256 random bits (``secrets.token_urlsafe(32)``), renewed at every
  login; only its SHA-256 is stored, so a copy of this file cannot be replayed as a login.
- The audit log is append-only: SQLite triggers refuse every UPDATE and DELETE, and the
  application has no code path that would try.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from phm.errors import UserError
from phm.web.roles import Role

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    organisation  TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES users(username),
    csrf_token   TEXT NOT NULL,
    created_at   REAL NOT NULL,
    last_seen    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at_utc       TEXT NOT NULL,
    username     TEXT,
    organisation TEXT,
    role         TEXT,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    status       INTEGER NOT NULL,
    client       TEXT
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

AUDIT_COLUMNS = ("id", "at_utc", "username", "organisation", "role", "action", "target", "outcome", "status", "client")


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    organisation: str
    display_name: str


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    created_at: float
    last_seen: float


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store:
    """Thread-safe access to the auth store (one SQLite connection per thread, WAL mode)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._hasher = PasswordHasher()
        # A hash to verify against when the user does not exist, so a login takes as long
        # for an unknown name as for a wrong password (no user enumeration by timing).
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
        with self._con() as con:
            con.executescript(SCHEMA)

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA busy_timeout=30000")
            self._local.con = con
        return con

    # ---- users ----------------------------------------------------------------------

    def add_user(self, username: str, password: str, role: Role | str, organisation: str,
                 display_name: str | None = None, *, replace: bool = False) -> User:
        role = Role(role)
        if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
            raise UserError(f"user name {username!r}: use letters, digits, '.', '-' or '_'")
        if len(password) < 12:
            raise UserError("passwords must be at least 12 characters")
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        try:
            self._con().execute(
                f"{verb} INTO users (username, password_hash, role, organisation, display_name, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (username, self._hasher.hash(password), role.value, organisation, display_name or username, utc_now()),
            )
        except sqlite3.IntegrityError:
            raise UserError(f"user {username!r} already exists") from None
        return User(username, role, organisation, display_name or username)

    def users(self) -> list[User]:
        rows = self._con().execute(
            "SELECT username, role, organisation, display_name FROM users WHERE active = 1 ORDER BY username"
        ).fetchall()
        return [User(u, Role(r), o, d) for u, r, o, d in rows]

    def authenticate(self, username: str, password: str) -> User | None:
        row = self._con().execute(
            "SELECT password_hash, role, organisation, display_name FROM users WHERE username = ? AND active = 1",
            (username,),
        ).fetchone()
        try:
            self._hasher.verify(row[0] if row else self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        return User(username, Role(row[1]), row[2], row[3]) if row else None

    # ---- sessions -------------------------------------------------------------------

    def new_session(self, user: User, now: float, replaces: str | None = None) -> tuple[str, str]:
        """Start a session; return ``(token, csrf_token)``. ``replaces`` (an old token) is ended."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        con = self._con()
        if replaces:
            con.execute("DELETE FROM sessions WHERE token_sha256 = ?", (_sha(replaces),))
        con.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", (_sha(token), user.username, csrf, now, now))
        return token, csrf

    def session(self, token: str, now: float, idle: float, absolute: float) -> Session | None:
        """The live session for ``token``, touching its last-seen time; None if unknown or expired."""
        con = self._con()
        key = _sha(token)
        row = con.execute(
            "SELECT s.csrf_token, s.created_at, s.last_seen, u.username, u.role, u.organisation, u.display_name "
            "FROM sessions s JOIN users u USING (username) WHERE s.token_sha256 = ? AND u.active = 1",
            (key,),
        ).fetchone()
        if row is None:
            return None
        csrf, created, last, username, role, org, name = row
        if now - last > idle or now - created > absolute:
            con.execute("DELETE FROM sessions WHERE token_sha256 = ?", (key,))
            return None
        if now - last > 15:  # touch at most every 15 s: fewer writes, idle timeout still exact to 15 s
            con.execute("UPDATE sessions SET last_seen = ? WHERE token_sha256 = ?", (now, key))
            last = now
        return Session(User(username, Role(role), org, name), csrf, created, last)

    def end_session(self, token: str) -> None:
        self._con().execute("DELETE FROM sessions WHERE token_sha256 = ?", (_sha(token),))

    # ---- audit ----------------------------------------------------------------------

    def audit(self, *, user: User | None, action: str, target: str, outcome: str, status: int,
              client: str | None = None, username: str | None = None) -> None:
        """Append one audit record (UTC). ``username`` names the account tried at a failed login."""
        self._con().execute(
            "INSERT INTO audit (at_utc, username, organisation, role, action, target, outcome, status, client) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (utc_now(), user.username if user else username, user.organisation if user else None,
             user.role.value if user else None, action, target[:500], outcome, status, client),
        )

    def audit_rows(self, limit: int = 100, offset: int = 0, username: str | None = None) -> list[dict]:
        sql = f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit"
        args: list = []
        if username:
            sql += " WHERE username = ?"
            args.append(username)
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        rows = self._con().execute(sql, (*args, limit, offset)).fetchall()
        return [dict(zip(AUDIT_COLUMNS, r, strict=True)) for r in rows]

    def audit_count(self) -> int:
        return self._con().execute("SELECT count(*) FROM audit").fetchone()[0]
