"""Every file and folder l2m-edge writes goes through here: nothing half-written, nothing lost.

- `atomic_path` / `StagedFile`: the content goes to a temporary beside the target (unique per
  process: pid + random), is fsynced and renamed onto the target only when complete. Any failure
  (disk full, read-only disk, an exception, Ctrl-C) removes the temporary and leaves the old file.
- `atomic_directory`: the same for a folder; `force` only replaces a folder l2m-edge wrote itself.
- `output_lock`: one writer per output (`flock`, so a killed process never leaves a stale lock);
  a second writer is refused at once, or waits for the first up to a given time.
- `output_errors`: an OSError while writing becomes one `OutputError` line naming the path.

No file l2m-edge opens for writing follows a symbolic link it did not make (`open_own`: O_NOFOLLOW,
O_EXCL for new files, a regular file with one link checked on the open descriptor), and a final
rename never replaces what appeared meanwhile (`rename_no_replace`: renameat2's RENAME_NOREPLACE).
Temporaries of killed runs (`.NAME.<pid>-<random>.tmp…`, `.NAME.<pid>-<random>.old…`) are removed
by the next writer of the same output once that pid is dead.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import glob
import hashlib
import json
import os
import secrets
import shutil
import stat
import time
import weakref
from pathlib import Path
from typing import Callable, Iterator

from l2m_edge.errors import OutputBusy, OutputError
from l2m_edge.limits import not_a_regular_file

LOCK_NAME = ".l2m-edge.lock"
_LOCK_POLL_S = 0.2  # how often a waiting writer tries the lock again

_ADVICE = {
    errno.ENOSPC: "no space left on the device; free some space or write elsewhere",
    errno.EDQUOT: "disk quota exceeded; free some space or write elsewhere",
    errno.EROFS: "the file system is read-only; choose a writable output",
    errno.EACCES: "permission denied; choose an output you may write to",
    errno.EPERM: "permission denied; choose an output you may write to",
    errno.EISDIR: "is a folder where a file is expected; give a file name",
    errno.ENOTDIR: "a file is in the way where a folder is needed; choose another output",
    errno.ENAMETOOLONG: "the name is too long",
}


def describe_os_error(path: str | os.PathLike, exc: OSError) -> str:
    """One line: the path and what to do about the error."""
    reason = _ADVICE.get(exc.errno or 0) or (exc.strerror or str(exc)).rstrip(".")
    return f"{exc.filename if exc.filename and exc.errno == errno.ENOTDIR else path}: {reason}"


@contextlib.contextmanager
def output_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn an OSError raised while writing `path` into a one-line OutputError."""
    try:
        yield
    except OSError as exc:
        raise OutputError(describe_os_error(path, exc)) from None


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable; a file system that cannot fsync a folder still renamed atomically."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _temporary_name(path: Path, kind: str) -> Path:
    """`.stem.<pid>-<random>.<kind><suffix>` beside `path`: writers that pick a format by suffix still can."""
    return path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.{kind}{path.suffix}")


def _remove_orphans(path: Path) -> None:
    """Delete temporaries of `path` (files, folders, a replaced link) left by a process that was
    killed (SIGKILL, power loss) mid-write: those whose pid is no longer running."""
    for kind in ("tmp", "old"):
        for orphan in path.parent.glob(f".{glob.escape(path.stem)}.*-*.{kind}{glob.escape(path.suffix)}"):
            pid, _, token = orphan.name[len(path.stem) + 2:].partition(".")[0].partition("-")
            if pid.isdigit() and len(token) == 8 and not _alive(int(pid)):
                _remove(orphan)


def _remove(path: Path) -> None:
    """Remove a file, a link (never what it points to) or a folder tree; what cannot be removed stays."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    return True


def check_output_file(path: str | os.PathLike, create: bool = True) -> Path:
    """Refuse, before any work, a file output that is a folder or whose folder cannot be written.

    With `create` its folder is made now; without, only checked (nothing appears on disk).
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder where a file is expected; give a file name")
    _check_folder(path.parent, create)
    return path


def check_output_dir(path: str | os.PathLike, create: bool = True) -> Path:
    """Refuse, before any work, a folder output that is a file or cannot be written; with `create`, make it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: is a file where a folder is expected; choose a folder")
    _check_folder(path, create)
    return path


def _check_folder(folder: Path, create: bool) -> None:
    if create:
        with output_errors(folder):
            folder.mkdir(parents=True, exist_ok=True)
    existing = next(p for p in (folder, *folder.parents) if p.exists())  # a relative path ends at ".", which exists
    if not existing.is_dir():
        raise OutputError(f"{existing}: a file is in the way where a folder is needed; choose another output")
    refused = creation_refused(existing)
    if refused is not None:
        reason = _NOT_WRITABLE.get(refused.errno or 0) or (refused.strerror or str(refused)).lower()
        raise OutputError(f"{existing}: not writable ({reason}); choose another output")


_NOT_WRITABLE = {errno.EROFS: "read-only file system", errno.EACCES: "permission denied", errno.EPERM: "permission denied"}


def creation_refused(folder: Path) -> OSError | None:
    """Create and remove a uniquely named file in `folder`; the error that refused it, or None.

    `os.access` says yes to root whatever the permission bits, on sysfs and procfs, and past a full
    inode quota; only creating a file proves the folder takes one.
    """
    probe = folder / f".l2m-edge-probe.{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        return exc
    with contextlib.suppress(OSError):
        probe.unlink()
    return None


def open_own(path: str | os.PathLike, flags: int, mode: int = 0o666) -> int:
    """`os.open` for a file l2m-edge writes (a lock, a temporary): a symbolic link at `path` is
    refused rather than followed, and so is anything but a regular file with one link (a hard link
    to a user's file, a FIFO, which O_NONBLOCK keeps from blocking)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(f"{path}: is a symbolic link where l2m-edge keeps its own file; it never follows one it did not make — remove the link") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        os.close(fd)
        what = "is a hard link to another file" if stat.S_ISREG(st.st_mode) else f"is {not_a_regular_file(path)}"
        raise OutputError(f"{path}: {what} where l2m-edge keeps its own file; remove it")
    os.set_blocking(fd, True)
    return fd


_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2  # linux/fs.h
_AT_FDCWD = -100
_LIBC = ctypes.CDLL(None, use_errno=True)


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """renameat2(2) with `flags`; False where the C library or the file system lacks it."""
    call = getattr(_LIBC, "renameat2", None)
    if call is None:
        return False
    if call(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(dst))


def rename_no_replace(src: Path, dst: Path) -> None:
    """Rename `src` onto `dst` only while `dst` is absent; FileExistsError when something appeared there.

    Atomic with RENAME_NOREPLACE; elsewhere a file is hard-linked (which fails on an existing name)
    and a folder renamed after a last check (a non-empty folder is never replaced by rename(2)).
    """
    if _renameat2(src, dst, _RENAME_NOREPLACE):
        return
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, "appeared meanwhile", str(dst))
    if src.is_dir():
        os.rename(src, dst)
    else:
        os.link(src, dst, follow_symlinks=False)
        src.unlink()


def _appeared(path: Path) -> OutputError:
    return OutputError(f"{path}: appeared while l2m-edge was writing it and is left as it is; the new output was not kept — choose another output or pass --force")


class StagedFile:
    """A file written under a temporary name and renamed onto `path` by `commit()`.

    For writers that open and close across calls (a video sink); `atomic_path` wraps it for the rest.
    Without `replace`, an existing `path` is refused now, and one that appears while writing is
    kept (the commit fails) instead of being replaced. `mode` is the temporary's from its creation
    (less the umask): a secret is never readable by others, not even for a moment.
    """

    def __init__(self, path: str | os.PathLike, replace: bool = True, mode: int = 0o666) -> None:
        self.path = check_output_file(path)
        self.replace = replace
        if not replace:
            check_absent(self.path)
        _remove_orphans(self.path)
        self.tmp = _temporary_name(self.path, "tmp")
        with output_errors(self.path):
            os.close(open_own(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))

    def commit(self) -> Path:
        """fsync the temporary and rename it onto the target; on failure the old target stays."""
        try:
            with output_errors(self.path):
                with open(self.tmp, "rb+") as f:
                    os.fsync(f.fileno())
                if self.replace:
                    os.replace(self.tmp, self.path)
                else:
                    try:
                        rename_no_replace(self.tmp, self.path)
                    except FileExistsError:
                        raise _appeared(self.path) from None
                _fsync_directory(self.path.parent)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        self.tmp.unlink(missing_ok=True)


def check_absent(path: Path, hint: str = "pass --force to replace it, or choose another output") -> None:
    """Refuse an output file that exists (a link counts, even a dangling one): nothing is replaced without --force."""
    if os.path.lexists(path):
        raise OutputError(f"{path} exists; {hint}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, replace: bool = True, mode: int = 0o666) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block succeeds it is renamed onto `path`.

    An exception (including disk full and Ctrl-C) removes the temporary; the old `path` is untouched.
    `replace=False` and `mode`: as `StagedFile`'s.
    """
    staged = StagedFile(path, replace, mode)
    try:
        with output_errors(staged.path):
            yield staged.tmp
    except BaseException:
        staged.abort()
        raise
    staged.commit()


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(path: str | os.PathLike, data: object) -> Path:
    """`data` as the project's JSON records are written (one-space indent, a final newline), atomically."""
    return write_text_atomic(path, json.dumps(data, indent=1) + "\n")


def _holds_working_directory(path: Path) -> bool:
    here = Path.cwd().resolve()
    target = path.resolve()
    return target == here or target in here.parents


def unlisted_entries(directory: Path, ours: Callable[[str], bool]) -> list[str]:
    """Every entry under `directory` that `ours(relative posix name)` does not claim, links never
    followed: files, folders (asked as `name/`, even empty ones), links and FIFOs alike — what
    `--force` would delete that l2m-edge did not write."""
    found = []
    for here, folders, files in os.walk(directory):
        base = Path(here).relative_to(directory)
        for name in list(folders):
            rel = (base / name).as_posix()
            if os.path.islink(os.path.join(here, name)):
                found.append(rel)  # os.walk does not descend into links
            elif not ours(rel + "/"):
                found.append(rel + "/")
                folders.remove(name)  # the folder is named; its contents need not be
        for name in files:
            rel = (base / name).as_posix()
            if not (ours(rel) and stat.S_ISREG(os.lstat(os.path.join(here, name)).st_mode)):
                found.append(rel)
    return sorted(found)


def check_replaceable(path: str | os.PathLike, force: bool, foreign: Callable[[Path], str | None] | None = None) -> Path:
    """Refuse, before any work, a folder output that exists without `force`, or that `force` may not replace.

    `foreign(path)` says what in an existing folder l2m-edge did not write (None: nothing).
    """
    path = Path(path)
    if os.path.lexists(path):
        if not force:
            raise OutputError(f"{path} exists; pass --force to replace it")
        if not path.is_dir():
            raise OutputError(f"{path}: is a file, not an earlier l2m-edge output; --force only replaces those")
        if _holds_working_directory(path):
            raise OutputError(f"{path}: is the working directory (or holds it); choose a new folder for the output")
        found = foreign(path) if foreign is not None else "nothing marks it as one"
        if found:
            raise OutputError(f"{path}: not an earlier l2m-edge output ({found}); --force only replaces those — choose another folder")
    check_output_dir(path.parent)
    return path


@contextlib.contextmanager
def atomic_directory(
    path: str | os.PathLike, force: bool = False, foreign: Callable[[Path], str | None] | None = None
) -> Iterator[Path]:
    """Yield an empty temporary folder beside `path`; when the block succeeds it replaces `path`.

    An existing `path` is only replaced with `force`, and only when `foreign(path)` finds nothing
    l2m-edge did not write there (it returns what it found, or None), checked again at the end. What
    appears at `path` while the block runs is never replaced. On failure nothing is left.
    """
    path = check_replaceable(path, force, foreign)
    _remove_orphans(path)
    existed = _identity_of(path)
    tmp = _temporary_name(path, "tmp")
    try:
        with output_errors(path):
            tmp.mkdir()
            yield tmp
            _fsync_tree(tmp)
            if existed is None:
                try:
                    rename_no_replace(tmp, path)
                except FileExistsError:
                    raise _appeared(path) from None
            else:
                if _identity_of(path) != existed:
                    raise _appeared(path)
                check_replaceable(path, force, foreign)  # nothing of the user's was added meanwhile
                _swap_in(tmp, path)
            _fsync_directory(path.parent)
    finally:
        _remove(tmp)


def _identity_of(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the entry at `path` itself (a link is not followed), None when absent."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _swap_in(tmp: Path, path: Path) -> None:
    """Put the finished `tmp` at `path` and remove what was there (a link only as a link): exchanged
    atomically where renameat2 can, else moved aside to `.NAME.<pid>-<random>.old` first."""
    if _renameat2(tmp, path, _RENAME_EXCHANGE):
        _remove(tmp)  # now the old entry
        return
    old = _temporary_name(path, "old")
    os.replace(path, old)
    os.replace(tmp, path)
    _remove(old)


def _fsync_tree(root: Path) -> None:
    for directory, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_directory(Path(directory))


def _unlock(path: Path, fd: int) -> None:
    with contextlib.suppress(OSError):
        path.unlink()  # still holding the lock: no one else can be using this file
    os.close(fd)


class OutputLock:
    """An exclusive `flock` on a lock file: a second l2m-edge writing the same output is refused.

    The kernel drops the lock when the process dies (even by SIGKILL), so it is never stale;
    the file is removed on release (or when the lock is garbage-collected or the interpreter
    exits), and an acquirer that raced a removal retries.
    """

    def __init__(self, target: str | os.PathLike, inside: bool) -> None:
        target = Path(target)
        self.target = target
        self.path = target / LOCK_NAME if inside else target.parent / f".{target.name}{LOCK_NAME}"
        self._release: weakref.finalize | None = None

    def acquire(self, wait: float = 0.0, on_busy: Callable[[str], None] | None = None) -> "OutputLock":
        """Take the lock. While another process holds it, try again for up to `wait` seconds (telling
        `on_busy` the holder's pid once), then refuse with OutputBusy."""
        deadline = time.monotonic() + wait
        told = False
        with output_errors(self.path.parent):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            while True:
                fd = open_own(self.path, os.O_RDWR | os.O_CREAT, 0o666)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                    os.close(fd)
                    left = deadline - time.monotonic()
                    if left <= 0:
                        waited = f" (waited {wait:g} s)" if wait > 0 else ""
                        raise OutputBusy(
                            f"{self.target}: another l2m-edge process (pid {holder}) is writing it{waited}; wait for it to finish or choose another output",
                            holder,
                        ) from None
                    if on_busy is not None and not told:
                        on_busy(holder)
                        told = True
                    time.sleep(min(_LOCK_POLL_S, left))
                    continue
                except BaseException:
                    os.close(fd)
                    raise
                try:
                    same = os.path.samestat(os.fstat(fd), os.stat(self.path))
                except FileNotFoundError:
                    same = False
                if same:
                    break
                os.close(fd)  # the holder removed the file between our open and our lock: try again
            with contextlib.suppress(OSError):  # the holder's pid, for the refusal message; a full disk may not take it
                os.ftruncate(fd, 0)
                os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._release = weakref.finalize(self, _unlock, self.path, fd)
        return self

    def release(self) -> None:
        if self._release is not None:
            self._release()


@contextlib.contextmanager
def output_lock(
    target: str | os.PathLike, inside: bool = False, wait: float = 0.0, on_busy: Callable[[str], None] | None = None
) -> Iterator[OutputLock]:
    """Hold the lock of `target` (a lock file inside it when `inside`, else beside it) for the block;
    `wait`/`on_busy` as in `OutputLock.acquire`."""
    lock = OutputLock(target, inside).acquire(wait, on_busy)
    try:
        yield lock
    finally:
        lock.release()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
