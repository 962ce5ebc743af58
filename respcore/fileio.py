"""Small file helpers shared by the cache, the trainer and the study: atomic writes and hashes."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write a file through a temporary sibling and an atomic rename.

    A killed process leaves either the old file or the new one, never a half-written file.
    ``write`` receives the temporary path and must create it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    """Atomically write ``obj`` as indented, key-sorted JSON."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=_jsonable)
    return atomic_write(path, lambda tmp: tmp.write_text(text + "\n"))


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hash of a JSON-able object, independent of key order: the key of a cached result."""
    text = json.dumps(obj, sort_keys=True, default=_jsonable)
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def files_stamp(paths: list[Path], root: Path | None = None) -> str:
    """Freshness stamp of files for a cache: names, sizes and modification times (cheap; detects a
    replaced file). Not an identity of the data: see ``provenance.release_fingerprint`` for that."""
    h = hashlib.sha1()
    for p in sorted(paths):
        st = p.stat()
        name = str(p.relative_to(root)) if root else str(p)
        h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")
