"""Write-then-rename: the one way dlsuite puts a file or folder in place.

Task files, checkpoints, exports and replay buffers are all written into a hidden staging
sibling and renamed onto their target only when complete, so a reader (TF Serving polling an
export folder, a resumed run, a user) never sees half of one and a failed write leaves what was
there before untouched.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STAGING_PREFIX = ".tmp-"


def staging_path(target: str | os.PathLike, tag: str = "") -> Path:
    """A unique hidden sibling of ``target`` (same folder, so the final rename is atomic)."""
    target = Path(target)
    label = f"{tag}-" if tag else ""
    return target.with_name(f"{STAGING_PREFIX}{label}{uuid.uuid4().hex[:8]}-{target.name}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def staged(
    target: str | os.PathLike, *, replace: bool = True, tag: str = "", make_dir: bool = False
) -> Iterator[Path]:
    """Yield a staging path; when the block succeeds, rename it onto ``target``.

    ``replace=False`` refuses to replace an existing target (``FileExistsError``), as exports
    do for a version folder. ``make_dir=True`` creates the staging path as a folder first.
    On any error the staging path is removed and the target is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(target, tag)
    if make_dir:
        staging.mkdir()
    try:
        yield staging
        if not replace and target.exists():
            raise FileExistsError(f"{target} already exists and is never overwritten")
        if staging.is_dir() and target.is_dir() and replace:
            # os.replace cannot replace a non-empty folder: move the old one aside first.
            old = staging_path(target, "old")
            os.rename(target, old)
            os.rename(staging, target)
            _remove(old)
        elif replace:
            os.replace(staging, target)
        else:
            os.rename(staging, target)
    finally:
        if staging.exists():
            _remove(staging)


def newest_mtime(path: str | os.PathLike) -> float:
    """The latest modification time of ``path`` and, for a folder, of anything inside it."""
    path = Path(path)
    newest = path.stat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in (*dirs, *files):
                try:
                    newest = max(newest, os.stat(os.path.join(root, name)).st_mtime)
                except FileNotFoundError:
                    continue
    return newest


def remove_stale_staging(
    folder: str | os.PathLike,
    older_than_s: float = 3600.0,
    *,
    before: float | None = None,
    keep: str | os.PathLike | None = None,
) -> list[Path]:
    """Delete staging leftovers in ``folder`` (from a killed writer); return what was removed.

    A leftover is stale when nothing in it changed for ``older_than_s`` seconds or, with
    ``before`` (e.g. the mtime of a running writer's own staging folder), since that time.
    Younger ones are kept: they may belong to a writer that is still running. ``keep`` (the
    caller's own staging path) is never removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    cutoff = time.time() - older_than_s if before is None else before
    spare = Path(keep).name if keep is not None else None
    removed = []
    for path in sorted(folder.iterdir()):
        if not path.name.startswith(STAGING_PREFIX) or path.name == spare:
            continue
        try:
            changed = newest_mtime(path)
        except FileNotFoundError:
            continue
        if changed < cutoff:
            _remove(path)
            removed.append(path)
    return removed
