"""The on-disk compile cache: authenticated entries in a folder only this user can write.

Takes: a compiler's name, the parts that determine its output (source, flags, compiler
version) and, after a miss, the bytes it compiled.
Produces: `load(name, parts) -> bytes | None` and `store(name, parts, data)`, which
`Compiler.compile` calls; `clear(path)` and `stats(path)` for `tinytorch cache`; and
`private_dir()`, a 0700 folder of this process (the C loader writes shared objects there).

Layout under the cache folder (`helpers.cache_dir()`, i.e. $TINYTORCH_CACHE or the user cache dir):
  CACHEDIR.TAG                   marker: this folder is a tinytorch cache (backup tools skip it)
  .tinytorch-key                 32 random bytes, mode 0600: the key of every HMAC below
  <compiler>/<h[:2]>/<h>         entries; h = HMAC(key, compiler, source, flags, version)
An entry is MAGIC + HMAC(key, MAGIC + h + payload) + payload. An entry whose tag does not verify
(corrupt, written by an older tinytorch, or tampered with, checksum recomputed or not) is deleted
and rebuilt, never returned; without the key nobody can make one that verifies or predict its name.

The folder is used only when it is safe, as ssh and pip judge: it, its compiler and prefix
subfolders, the key and each entry must be owned by this user and not writable by group or
others; every parent folder must be owned by this user or root and not writable by others
unless sticky (like /tmp). Otherwise this process uses a private temporary cache instead,
once warns why, and never reads from the refused folder. Folders are created 0700, files 0600,
every file is written to a temporary name and renamed into place.

Size: at most $TINYTORCH_CACHE_MB megabytes of entries (0 turns the disk cache off); a hit
touches the entry's mtime, and after a write that goes over the bound the least recently
used entries are deleted until the total is under 90% of it.
"""

from __future__ import annotations

import atexit
import errno
import hashlib
import hmac
import os
import re
import shutil
import stat
import sys
import tempfile
import threading
import warnings

from ..helpers import CACHE_MB, DEBUG, atomic_write, cache_dir

MAGIC = b"TTC2"
TAG_BYTES = 32
KEY_FILE = ".tinytorch-key"
MARKER = "CACHEDIR.TAG"
MARKER_TEXT = ("Signature: 8a477f597d28d172789f06886806bc55\n"
               "# This folder is tinytorch's compile cache: compiled kernels, rebuilt on demand.\n"
               "# `tinytorch cache --clear` deletes what tinytorch wrote here and nothing else.\n")
OWN_FILES = ("limits.json",)  # other files tinytorch writes in the cache folder (runtime/limits.py)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_TMP_PREFIX = ".tmp-"

_LOCK = threading.RLock()
_REFUSED: dict[str, str] = {}  # cache folder -> why this process does not use it
_CHECKED: set[str] = set()  # cache folders whose subfolders this process has checked
_SIZES: dict[str, int] = {}  # cache folder -> bytes of entries (measured on the first write, then counted)


class UnsafeCache(Exception):
    """The cache folder (or something in it) could have been written by someone else."""


# -------------------------------------------------------------------- ownership and permission checks
def _uid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else -1


def _check_own(path: str, st: os.stat_result, what: str) -> None:
    """st (of path) must be owned by this user and not writable by group or others."""
    uid = _uid()
    if uid >= 0 and st.st_uid != uid:
        raise UnsafeCache(f"{what} {path} is owned by uid {st.st_uid}, not by this user (uid {uid})")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeCache(f"{what} {path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})")


def _check_parents(path: str) -> None:
    """Every folder above path: owned by this user or root, not writable by others unless sticky.
    Symbolic links on the way must belong to this user or root too."""
    if _uid() < 0:  # no POSIX owners (Windows): nothing to check
        return
    uid = _uid()
    parts = os.path.abspath(path).split(os.sep)
    for i in range(2, len(parts) + 1):  # the links in the path as written
        p = os.sep.join(parts[:i]) or os.sep
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            break
        if stat.S_ISLNK(st.st_mode) and st.st_uid not in (uid, 0):
            raise UnsafeCache(f"{p} is a symbolic link owned by uid {st.st_uid}")
    real = os.path.realpath(path)
    parent = os.path.dirname(real)
    while True:
        st = os.stat(parent)
        if st.st_uid not in (uid, 0):
            raise UnsafeCache(f"parent folder {parent} is owned by uid {st.st_uid}, not by this user or root")
        sticky = bool(st.st_mode & stat.S_ISVTX)
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not sticky:
            raise UnsafeCache(f"parent folder {parent} is writable by group or others "
                              f"(mode {stat.S_IMODE(st.st_mode):04o}) and not sticky")
        up = os.path.dirname(parent)
        if up == parent:
            return
        parent = up


def _check_dir(path: str, what: str) -> bool:
    """A folder inside the cache: True if it exists and is safe, False if missing; UnsafeCache otherwise."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeCache(f"{what} {path} is not a folder")
    _check_own(path, st, what)
    return True


def _mkdir(path: str, what: str) -> None:
    """Create a 0700 folder (or accept an existing safe one)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    if not _check_dir(path, what):
        raise UnsafeCache(f"{what} {path} vanished")


def _check_root(root: str, create: bool) -> bool:
    """The cache folder itself: True when it is usable, False when it does not exist (and create
    is False); UnsafeCache when it must not be used. Tightens a safe folder of ours to 0700."""
    _check_parents(root)
    if not os.path.lexists(root):
        if not create:
            return False
        os.makedirs(os.path.dirname(os.path.abspath(root)), exist_ok=True)
        _check_parents(root)  # the parents just made (with the umask's modes) are checked again
        _mkdir(root, "cache folder")
    st = os.stat(root)  # a link to a folder is judged by the folder (its own owner was checked above)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeCache(f"cache folder {root} is not a folder")
    _check_own(root, st, "cache folder")
    if _uid() >= 0 and stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(root, 0o700)  # ours and safe, but others could read the sources: private from now on
    if create and not os.path.exists(os.path.join(root, MARKER)):
        _write_atomic(root, MARKER, MARKER_TEXT.encode())
    return True


# -------------------------------------------------------------------- files
def _write_atomic(folder: str, name: str, data: bytes) -> str:
    """data -> folder/name through a 0600 temporary file and a rename (readers never see half a file)."""
    path = os.path.join(folder, name)
    atomic_write(path, [data], prefix=_TMP_PREFIX)
    return path


def _read_own(path: str, what: str, private: bool = False) -> bytes | None:
    """The bytes of a regular file of ours (not a link), None when missing; UnsafeCache when it is
    not ours (or, with private, when others may read it)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UnsafeCache(f"{what} {path} is a symbolic link") from None
        raise
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeCache(f"{what} {path} is not a regular file")
        _check_own(path, st, what)
        if private and _uid() >= 0 and stat.S_IMODE(st.st_mode) & 0o077:
            raise UnsafeCache(f"{what} {path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o})")
        return f.read()


def _key(root: str) -> bytes:
    """The cache's secret key: read, or made once (32 random bytes in a 0600 file, created atomically:
    written under a temporary name, then hard-linked to its name, which fails if another process won)."""
    path = os.path.join(root, KEY_FILE)
    for _ in range(3):
        key = _read_own(path, "cache key", private=True)
        if key is not None:
            if len(key) != 32:
                raise UnsafeCache(f"cache key {path} is {len(key)} bytes, not 32")
            return key
        fd, tmp = tempfile.mkstemp(dir=root, prefix=_TMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(32))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process made it first: read theirs
            except OSError:  # a file system without hard links: the last writer wins (entries then rebuild)
                os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise UnsafeCache(f"cache key {path} could not be created")


def _safe_name(name: str) -> str:
    return name if _NAME.fullmatch(name) else "x-" + hashlib.sha256(name.encode()).hexdigest()[:16]


def _tag(key: bytes, h: str, payload: bytes) -> bytes:
    return hmac.new(key, MAGIC + h.encode() + payload, hashlib.sha256).digest()


# -------------------------------------------------------------------- the private fallback
_PRIVATE: list[tuple[int, str]] = []  # (pid, folder)


def private_dir() -> str:
    """A 0700 folder of this process in the temp dir (unpredictable name), deleted at exit: the
    fallback cache and the place where loaders write binaries to dlopen them."""
    with _LOCK:
        if not _PRIVATE or _PRIVATE[0][0] != os.getpid():  # a forked child makes its own
            _PRIVATE[:] = [(os.getpid(), tempfile.mkdtemp(prefix="tinytorch-"))]
        return _PRIVATE[0][1]


def _remove_private() -> None:
    if _PRIVATE and _PRIVATE[0][0] == os.getpid():
        shutil.rmtree(_PRIVATE[0][1], ignore_errors=True)


atexit.register(_remove_private)


def _refuse(root: str, why: str) -> None:
    with _LOCK:
        if root in _REFUSED:
            return
        _REFUSED[root] = why
    msg = (f"tinytorch: not using the compile cache {root}: {why}. This process uses a private temporary "
           f"cache instead (fix the owner or permissions, e.g. `chmod 700`, or set TINYTORCH_CACHE)")
    warnings.warn(msg, RuntimeWarning, stacklevel=2)
    if DEBUG >= 1:
        print(msg, file=sys.stderr, flush=True)


def active_root(create: bool = True) -> str | None:
    """The folder entries are read from and written to: cache_dir() when it is safe, else this
    process's private one (None when the cache folder does not exist and create is False)."""
    root = os.path.abspath(cache_dir())
    if root not in _REFUSED:
        try:
            if not _check_root(root, create):
                return None
            if root not in _CHECKED:  # every compiler's subfolder, once: one unsafe folder refuses them all (an
                for cdir, pres in _subdirs(root):  # entry of another name must not load from a folder beside it)
                    for d in (cdir, *pres):
                        _check_dir(d, "cache subfolder")
                _CHECKED.add(root)
            return root
        except UnsafeCache as e:
            _refuse(root, str(e))
        except OSError as e:  # cannot create it (read-only, no space): same fallback
            _refuse(root, f"{e.strerror or e}")
    fallback = os.path.join(private_dir(), "cache")
    _mkdir(fallback, "cache folder")
    return fallback


def why_refused(path: str | None = None) -> str | None:
    """Why this process does not use the cache folder (None when it does); checks it without
    creating it (a folder that does not exist yet is fine)."""
    root = os.path.abspath(path or cache_dir())
    if root in _REFUSED:
        return _REFUSED[root]
    try:
        if _check_root(root, create=False):
            if os.path.exists(os.path.join(root, KEY_FILE)):
                _key(root)
            for cdir, pres in _subdirs(root):
                for d in (cdir, *pres):
                    _check_dir(d, "cache subfolder")
    except UnsafeCache as e:
        return str(e)
    except OSError as e:
        return str(e.strerror or e)
    return None


# -------------------------------------------------------------------- entries
def _entry_path(root: str, name: str, key: bytes, parts: list[str]) -> tuple[str, str]:
    h = hmac.new(key, "\0".join([name, *parts]).encode(), hashlib.sha256).hexdigest()
    return os.path.join(root, _safe_name(name), h[:2]), h


def load(name: str, parts: list[str]) -> bytes | None:
    """The payload stored for (compiler name, parts) if a verified entry exists, else None."""
    if int(CACHE_MB) <= 0:
        return None
    for _ in range(2):  # a refusal found here is retried once in the fallback folder
        root = active_root()
        if root is None:
            return None
        try:
            with _LOCK:
                key = _key(root)
            folder, h = _entry_path(root, name, key, parts)
            if not (_check_dir(os.path.dirname(folder), "cache subfolder") and _check_dir(folder, "cache subfolder")):
                return None
            path = os.path.join(folder, h)
            data = _read_own(path, "cache entry")
        except UnsafeCache as e:
            _refuse(root, str(e))
            continue
        except OSError:
            return None
        if data is None:
            return None
        payload = data[len(MAGIC) + TAG_BYTES:]
        if data[:len(MAGIC)] != MAGIC or not hmac.compare_digest(data[len(MAGIC):len(MAGIC) + TAG_BYTES],
                                                                 _tag(key, h, payload)):
            if DEBUG >= 1:
                print(f"tinytorch: cache entry {path} failed verification: rebuilt", file=sys.stderr, flush=True)
            try:
                os.unlink(path)
            except OSError:
                pass
            return None
        try:
            os.utime(path)  # most recently used
        except OSError:
            pass
        return payload
    return None


def store(name: str, parts: list[str], payload: bytes) -> None:
    """Write the entry of (compiler name, parts); errors (read-only folder, full disk) are ignored."""
    if int(CACHE_MB) <= 0:
        return
    for _ in range(2):
        root = active_root()
        if root is None:
            return
        try:
            with _LOCK:
                key = _key(root)
            folder, h = _entry_path(root, name, key, parts)
            _mkdir(os.path.dirname(folder), "cache subfolder")
            _mkdir(folder, "cache subfolder")
            _write_atomic(folder, h, MAGIC + _tag(key, h, payload) + payload)
        except UnsafeCache as e:
            _refuse(root, str(e))
            continue
        except OSError:
            return
        _account(root, len(MAGIC) + TAG_BYTES + len(payload))
        return


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _subdirs(root: str) -> list[tuple[str, list[str]]]:
    """(compiler folder, its prefix folders) under root: names as the cache makes them, no links."""
    out = []
    for comp in _listdir(root):
        cdir = os.path.join(root, comp)
        if not _NAME.fullmatch(comp) or os.path.islink(cdir) or not os.path.isdir(cdir):
            continue
        pres = [os.path.join(cdir, p) for p in _listdir(cdir) if re.fullmatch(r"[0-9a-f]{2}", p)]
        pres = [p for p in pres if not os.path.islink(p) and os.path.isdir(p)]
        if pres:
            out.append((cdir, pres))
    return out


def entries(root: str) -> list[tuple[str, int, float]]:
    """(path, size, mtime) of every entry under root: files named like entries in folders named
    like the cache's (links are not followed)."""
    out: list[tuple[str, int, float]] = []
    for _, pres in _subdirs(root):
        for pdir in pres:
            pre = os.path.basename(pdir)
            for f in _listdir(pdir):
                if _HEX64.fullmatch(f) and f[:2] == pre:
                    try:
                        st = os.lstat(os.path.join(pdir, f))
                    except OSError:
                        continue
                    if stat.S_ISREG(st.st_mode):
                        out.append((os.path.join(pdir, f), st.st_size, st.st_mtime))
    return out


def _account(root: str, nbytes: int) -> None:
    """Count a write; over the bound, delete least recently used entries down to 90% of it."""
    bound = int(CACHE_MB) * (1 << 20)
    with _LOCK:
        if root not in _SIZES:
            _SIZES[root] = sum(s for _, s, _ in entries(root))
        else:
            _SIZES[root] += nbytes
        if _SIZES[root] <= bound:
            return
        evict(root, int(bound * 0.9))


def evict(root: str, target: int) -> int:
    """Delete the least recently used entries of root until they total at most target bytes; the count deleted."""
    ents = sorted(entries(root), key=lambda e: e[2])
    total = sum(s for _, s, _ in ents)
    n = 0
    for path, size, _ in ents:
        if total <= target:
            break
        try:
            os.unlink(path)
            total -= size
            n += 1
        except OSError:
            pass
    with _LOCK:
        _SIZES[root] = total
    if n and DEBUG >= 2:
        print(f"tinytorch: compile cache over {int(CACHE_MB)} MB: {n} least recently used entries deleted",
              file=sys.stderr)
    return n


# -------------------------------------------------------------------- tinytorch cache [--clear]
def stats(path: str) -> tuple[int, int]:
    """(bytes, count) of the entries in path."""
    ents = entries(path)
    return sum(s for _, s, _ in ents), len(ents)


def clear(path: str) -> tuple[int, int, int]:
    """Delete what the cache wrote in path: entries, its temporary files, the key, the marker and
    OWN_FILES, then its folders when that left them empty. Returns (bytes, files deleted, other
    files left in place)."""
    removed = [(p, s) for p, s, _ in entries(path)]
    folders: list[str] = []
    for cdir, pres in _subdirs(path):
        for pdir in pres:
            removed += [(os.path.join(pdir, f), 0) for f in _listdir(pdir) if f.startswith(_TMP_PREFIX)]
        folders += [*pres, cdir]
    removed += [(os.path.join(path, f), 0) for f in _listdir(path) if f.startswith(_TMP_PREFIX)]
    for f in (KEY_FILE, MARKER, *OWN_FILES):
        p = os.path.join(path, f)
        if os.path.isfile(p) and not os.path.islink(p):
            removed.append((p, os.path.getsize(p)))
    nbytes = n = 0
    for p, size in removed:
        try:
            os.unlink(p)
            nbytes, n = nbytes + size, n + 1
        except OSError:
            pass
    for d in [*folders, path]:
        try:
            os.rmdir(d)  # only when empty: other files stay
        except OSError:
            pass
    with _LOCK:
        _SIZES.pop(os.path.abspath(path), None)
    left = sum(len(fs) for _, _, fs in os.walk(path)) if os.path.isdir(path) else 0
    return nbytes, n, left
