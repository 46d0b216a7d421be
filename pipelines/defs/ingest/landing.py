"""Which landed files a run reads: discovery, hashing and the decision per file.

Files are identified by content (sha256) and recorded in meta.load_manifest by path. Per ready
file a run decides: parse it (new or changed), skip it (unchanged), or skip it as a re-drop of
bytes already loaded under another path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .files import entry_problem, is_ready, sha256_of
from .hash_cache import HashCache
from .manifest import DUPLICATE_PREFIX, LOADED, UNLOADED, ManifestRow
from .spec import LandedFile, RunContext, SourceSpec


@dataclass
class Candidate:
    """One ready file and what this run does with it."""

    file: LandedFile
    sha256: str
    size: int
    known: ManifestRow | None
    fingerprint: str
    first_seen_at: datetime
    action: str  # parse | unchanged | unloaded | duplicate | failed | refused
    duplicate_of: str | None = None
    error: str | None = None


def discover(spec: SourceSpec, landing_dir: Path) -> tuple[list[LandedFile], dict[str, str]]:
    """Files of a source (recursively, hidden files ignored) and per-file/folder failures."""
    if spec.discover is not None:
        return spec.discover(landing_dir, spec.name)
    root = landing_dir / spec.name
    files: list[LandedFile] = []
    failures: dict[str, str] = {}
    if not root.is_dir():
        return files, failures
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(landing_dir).as_posix()
        if any(p.startswith(".") for p in path.relative_to(root).parts):
            continue
        problem = entry_problem(path, landing_dir, spec.extensions)
        if problem is not None:
            failures[rel] = problem
            continue
        if path.is_dir():
            continue
        if not is_ready(path) or path.suffix.lower() in spec.extensions:
            files.append(LandedFile(path, rel))
        else:
            failures[rel] = (
                f"{rel}: {spec.name} files must end in {' or '.join(spec.extensions)}; "
                "move anything else out of the landing zone."
            )
    return files, failures


def decide(
    spec: SourceSpec,
    files: list[LandedFile],
    known: dict[str, ManifestRow],
    ctx: RunContext,
    hashes: HashCache | None = None,
) -> list[Candidate]:
    """What to do with each ready file: parse (new or changed), skip as unchanged (same
    bytes and reader settings as its last load), skip as retracted (`segments unload`, same
    bytes), or skip as a re-drop of loaded bytes. `hashes` reuses the hash of a file whose
    stat has not changed since it was hashed (hash_cache.py)."""
    sha256 = hashes.sha256 if hashes is not None else sha256_of
    loaded_by_sha = {r.file_sha256: path for path, r in sorted(known.items()) if r.status == LOADED}
    out = []
    for file in files:
        sha, size = sha256(file.path)
        row = known.get(file.rel)
        fingerprint = fingerprint_of(spec, file, ctx)
        same = (
            row is not None
            and row.file_sha256 == sha
            and (row.reader_fingerprint or "") == fingerprint
        )
        cand = Candidate(
            file,
            sha,
            size,
            row,
            fingerprint,
            first_seen_at=row.first_seen_at if row and row.first_seen_at else ctx.loaded_at,
            action="parse",
        )
        original = loaded_by_sha.get(sha)
        if same and row.is_duplicate:
            cand.action, cand.duplicate_of = "duplicate", row.status[len(DUPLICATE_PREFIX) :]
        elif same and row.status == LOADED:
            cand.action = "unchanged"
        elif row is not None and row.file_sha256 == sha and row.status == UNLOADED:
            cand.action = "unloaded"  # retracted: these bytes stay out
        elif not same and original is not None and original != file.rel:
            cand.action, cand.duplicate_of = "duplicate", original
        if cand.action == "parse" and not (same and row.status == LOADED):
            loaded_by_sha.setdefault(sha, file.rel)  # a second copy in this batch is a re-drop
        out.append(cand)
    return out


def fingerprint_of(spec: SourceSpec, file: LandedFile, ctx: RunContext) -> str:
    """What besides the bytes decides how a file parses: SEGMENTS_START_DATE (which rows are
    `before_start_date`) and the reader's own settings (mapping.yml, reporting currency)."""
    own = spec.fingerprint(file, ctx) if spec.fingerprint else ""
    return f"start_date={ctx.start_date.isoformat()}" + (f";{own}" if own else "")


def failed_candidates(
    landing_dir: Path,
    failures: dict[str, str],
    known: dict[str, ManifestRow],
    ctx: RunContext,
    hashes: HashCache | None = None,
) -> list[Candidate]:
    """Files that discovery already rejected (wrong extension, bad mapping.yml, a link out of
    the landing zone, a pipe...), so that the manifest records them as failed. Folder-level
    failures have no file to record. An entry that is not a readable regular file of the
    landing zone is recorded without being opened (its sha256 is empty)."""
    sha256 = hashes.sha256 if hashes is not None else sha256_of
    out = []
    for rel, message in sorted(failures.items()):
        path = landing_dir / rel
        if rel.endswith("/") or not os.path.lexists(path):
            continue
        if entry_problem(path, landing_dir, ()) is None and path.is_file():
            if not is_ready(path):
                continue
            sha, size = sha256(path)
        else:
            sha, size = "", path.lstat().st_size
        row = known.get(rel)
        first = row.first_seen_at if row and row.first_seen_at else ctx.loaded_at
        out.append(
            Candidate(LandedFile(path, rel), sha, size, row, "", first, "failed", error=message)
        )
    return out
