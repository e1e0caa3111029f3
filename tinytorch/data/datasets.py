"""MNIST and Fashion-MNIST from their original IDX files (gzip-compressed or not), checked and parsed.

Takes: `train=True/False`, optionally `root` (a folder) and `download`.
Produces: a Dataset with `data` (N, 28, 28) uint8 and `targets` (N,) int64 numpy arrays (read-only,
shared between instances), `__getitem__(i) -> (image, label)` and a batched fast path for DataLoader.

Where the files are looked for, in order (each folder also through its `mnist/` or `fashion-mnist/`
subfolder and torchvision's `MNIST/raw` / `FashionMNIST/raw` layout):
  1. `root` when given (then only there), else `$TINYTORCH_DATA`;
  2. `../shared/data` next to the checkout (Path(tinytorch.__file__).parents[2] / "shared" / "data");
  3. `/usr/share/datasets/fashion-mnist` (Debian's dataset-fashion-mnist package; Fashion-MNIST only);
  4. the user data dir, `tinytorch.helpers.data_dir()/datasets` (e.g. ~/.local/share/tinytorch/datasets);
  5. the folder older versions downloaded into, `tinytorch.helpers.cache_dir()/datasets` (read only).
When none has them and `download=True`, they are fetched from the canonical mirrors into the data dir
(never into the compile cache, which `tinytorch cache --clear` empties).
Every file is checked against a known sha256 — of the .gz file, or of the decompressed IDX bytes
(Debian re-gzipped Fashion-MNIST with normalised headers, so only its decompressed digest matches
upstream's) — then its IDX structure: magic number, dims (N, 28, 28) / (N,), sizes, label range.
Sizes are bounded before anything is read or inflated: a file, a download or a gzip stream larger
than the largest file of the dataset is refused, and a gzip stream is inflated only as far as its
IDX header says (`inflate_idx`), so a small "gzip bomb" costs no more memory than a real file.
A missing or corrupt file raises an error naming the files, the folders searched and what to do.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..helpers import LRU, atomic_write, cache_dir, data_dir
from .dataset import Dataset

__all__ = ["MNIST", "FashionMNIST", "inflate_idx", "parse_idx", "search_dirs"]

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_IDX_BYTES = 1 << 30  # no IDX file is inflated beyond this, whatever its header says

SYSTEM_DIRS: list[Path] = [Path("/usr/share/datasets/fashion-mnist")]


def _shared_data_dir() -> Path:
    import tinytorch

    return Path(tinytorch.__file__).resolve().parents[2] / "shared" / "data"


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """IDX bytes (big-endian: 0, 0, type code, ndim, then ndim u32 dims, then the data) -> numpy array."""
    if len(raw) < 4:
        raise ValueError(f"{name}: not an IDX file: {len(raw)} bytes is shorter than the 4-byte magic number")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{name}: not an IDX file: magic number {raw[:4].hex()} does not start with two zero bytes")
    types = IDX_TYPES
    if raw[2] not in types:
        raise ValueError(f"{name}: IDX type code 0x{raw[2]:02x} is not one of {[hex(t) for t in types]}")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{name}: truncated IDX header: {ndim} dims need {4 + 4 * ndim} bytes, "
                         f"the file has {len(raw)}")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    dt = np.dtype(types[raw[2]])
    count = 1
    for d in dims:
        count *= d
    need = 4 + 4 * ndim + count * dt.itemsize
    if len(raw) != need:
        raise ValueError(f"{name}: IDX dims {dims} of {dt.name} need {need} bytes, the file has {len(raw)} "
                         f"({'truncated' if len(raw) < need else 'trailing bytes'})")
    return np.frombuffer(raw, dt, count, 4 + 4 * ndim).reshape(dims)


def _idx_magic(head: bytes, name: str) -> int:
    """The number of dims of an IDX file from its first 4 bytes; ValueError when they are not IDX's."""
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in IDX_TYPES:
        raise ValueError(f"{name}: not an IDX file: it starts with {head[:4].hex() or 'nothing'} "
                         "(expected 00 00, a known type code and the number of dims)")
    return head[3]


def _idx_size(head: bytes, name: str, max_bytes: int) -> int:
    """The total size an IDX file must have, from its first 4 + 4 * ndim bytes; ValueError when
    the header is not IDX's or declares more than max_bytes."""
    ndim = _idx_magic(head, name)
    if len(head) < 4 + 4 * ndim:
        raise ValueError(f"{name}: truncated IDX header: {ndim} dims need {4 + 4 * ndim} bytes, got {len(head)}")
    count = 1
    for i in range(ndim):
        count *= int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big")
    need = 4 + 4 * ndim + count * np.dtype(IDX_TYPES[head[2]]).itemsize
    if need > max_bytes:
        raise ValueError(f"{name}: its IDX header declares {need} bytes, more than the {max_bytes} allowed "
                         "(not this dataset's file, or a decompression bomb): refused before inflating")
    return need


def inflate_idx(data: bytes, name: str = "<bytes>", max_bytes: int = MAX_IDX_BYTES) -> bytes | bytearray:
    """The IDX bytes of data, a whole IDX file or a gzip-compressed one. A gzip stream is inflated
    incrementally: first its IDX header, which gives the exact size of the file, then exactly that
    many bytes into one buffer; a header declaring more than max_bytes, or a stream that inflates to
    more than its header declares, is refused (ValueError naming the file) without inflating further."""
    if data[:2] != b"\x1f\x8b":
        if len(data) > max_bytes:
            raise ValueError(f"{name}: {len(data)} bytes, more than the {max_bytes} allowed")
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            head = f.read(4)
            head += f.read(4 * _idx_magic(head, name))
            need = _idx_size(head, name, max_bytes)
            buf = bytearray(need)
            buf[:len(head)] = head
            view, got = memoryview(buf), len(head)
            while got < need:
                n = f.readinto(view[got:])
                if not n:
                    raise ValueError(f"{name}: truncated: its IDX header declares {need} bytes, the gzip stream "
                                     f"inflates to {got}")
                got += n
            view.release()
            if f.read(1):
                raise ValueError(f"{name}: the gzip stream inflates to more than the {need} bytes its IDX header "
                                 "declares (a decompression bomb or a corrupt file): refused")
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{name}: not a valid gzip file ({e})") from None
    return buf


class _IDXImages(Dataset):
    """Shared machinery of MNIST-like datasets: (N, 28, 28) uint8 images with int64 labels 0..9."""

    name = ""
    subdirs: tuple[str, ...] = ()
    mirrors: tuple[str, ...] = ()
    files = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
    # file stem -> (sha256 of the original .gz, sha256 of the decompressed IDX)
    digests: dict[str, tuple[str | None, str]] = {}
    classes: list[str] = []
    use_system_dirs = False
    max_items = 60000  # the largest split: no file of the dataset is larger than max_bytes(stem)

    # (dataset, file stem, path, size, mtime_ns) -> checked and parsed array, shared across instances
    _cache: LRU[tuple[str, str, str, int, int], np.ndarray] = LRU(16)

    def __init__(self, root: str | os.PathLike[str] | None = None, train: bool = True, download: bool = True,
                 transform: Any = None, target_transform: Any = None):
        self.train, self.transform, self.target_transform = train, transform, target_transform
        self.root = None if root is None else Path(root)
        img_stem, lbl_stem = self.files["train" if train else "test"]
        found = self._locate([img_stem, lbl_stem], download)
        (img_path, images), (lbl_path, labels) = found[img_stem], found[lbl_stem]
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{self.name}: {images.shape[0]} images in {img_path} but {labels.shape[0]} labels "
                             f"in {lbl_path}")
        self.data: np.ndarray = images  # (N, 28, 28) uint8, read-only
        self.targets: np.ndarray = labels  # (N,) int64, read-only
        self.paths = {img_stem: img_path, lbl_stem: lbl_path}

    # file search ---------------------------------------------------------------------------------------
    @classmethod
    def search_dirs(cls, root: str | os.PathLike[str] | None = None) -> list[Path]:
        """The folders searched, in order (each base folder followed by its dataset subfolders)."""
        if root is not None:
            bases = [Path(root)]
        else:
            bases = []
            if os.environ.get("TINYTORCH_DATA"):
                bases.append(Path(os.environ["TINYTORCH_DATA"]))
            bases.append(_shared_data_dir())
            if cls.use_system_dirs:
                bases.extend(SYSTEM_DIRS)
            bases.append(cls.data_root())
            bases.append(cls.legacy_root())
        out: list[Path] = []
        for b in bases:
            for d in (b, *(b / s for s in cls.subdirs)):
                if d not in out:
                    out.append(d)
        return out

    @classmethod
    def data_root(cls) -> Path:
        """Where downloads go: the user data dir (kept out of the compile cache)."""
        return Path(data_dir()) / "datasets"

    @classmethod
    def legacy_root(cls) -> Path:
        """Where older versions downloaded to (inside the compile cache): still read."""
        return Path(cache_dir()) / "datasets"

    @classmethod
    def download_dir(cls) -> Path:
        return cls.data_root() / cls.subdirs[0]

    def max_bytes(self, stem: str) -> int:
        """The size of the largest IDX file the dataset has under this stem (images or labels)."""
        return 16 + self.max_items * 28 * 28 if "images" in stem else 8 + self.max_items

    def _candidates(self, d: Path, stem: str) -> list[Path]:
        return [d / f"{stem}.gz", d / stem]

    def _locate(self, stems: list[str], download: bool) -> dict[str, tuple[Path, np.ndarray]]:
        """stem -> (path, parsed array) of the first file in the search order that passes the checks."""
        found: dict[str, tuple[Path, np.ndarray]] = {}
        rejected: list[str] = []
        dirs = self.search_dirs(self.root)
        for stem in stems:
            for d in dirs:
                for p in self._candidates(d, stem):
                    if not p.is_file():
                        continue
                    try:
                        found[stem] = (p, self._load(p, stem))
                        break
                    except ValueError as e:
                        rejected.append(str(e))
                if stem in found:
                    break
        missing = [s for s in stems if s not in found]
        download_note = ""
        if missing and download and self.root is None:
            try:
                for stem in missing:
                    p = self._download(stem)
                    found[stem] = (p, self._load(p, stem))
                missing = []
            except (OSError, ValueError) as e:
                download_note = f"Downloading failed: {e}\n"
        elif missing:
            download_note = "Download was not attempted (download=False or an explicit root).\n"
        if missing:
            names = ", ".join(f"{s}.gz" for s in missing)
            tried = "\n".join(f"  {d}" for d in dirs)
            bad = ("Files found but rejected:\n" + "\n".join(f"  {r}" for r in rejected) + "\n") if rejected else ""
            raise FileNotFoundError(
                f"{self.name}: could not find {names}.\nLooked in:\n{tried}\n{bad}{download_note}"
                f"Put the original IDX .gz files ({names}) in one of these folders, for example "
                f"{dirs[0]} (set $TINYTORCH_DATA to choose a folder), or let them download when online "
                f"(from {self.mirrors[0]}).")
        return found

    # checks and parsing ------------------------------------------------------------------------------------
    def _checked_idx(self, data: bytes, stem: str, where: str) -> bytes:
        """The IDX bytes of a file's content (.gz or not) after the sha256 check; ValueError when it fails."""
        gz_digest, raw_digest = self.digests[stem]
        if data[:2] == b"\x1f\x8b":  # gzip magic
            gz_ok = gz_digest is not None and hashlib.sha256(data).hexdigest() == gz_digest
            data = inflate_idx(data, where, self.max_bytes(stem))  # type: ignore[assignment]
            if gz_ok:
                return data
        if hashlib.sha256(data).hexdigest() != raw_digest:
            raise ValueError(f"{where}: sha256 does not match the known {self.name} {stem} file "
                             "(a different or corrupt file)")
        return data

    def _load(self, path: Path, stem: str) -> np.ndarray:
        """Checked and parsed IDX array of path (cached across instances by path, size and mtime)."""
        st = path.stat()
        key = (self.name, stem, str(path.resolve()), st.st_size, st.st_mtime_ns)
        arr = _IDXImages._cache.get(key)
        if arr is not None:
            return arr
        limit = self.max_bytes(stem)
        if st.st_size > limit + (1 << 20):  # gzip adds little even to incompressible data
            raise ValueError(f"{path}: {st.st_size} bytes, larger than any {self.name} file ({limit} bytes)")
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ValueError(f"{path}: unreadable ({e.strerror})") from None
        raw = self._checked_idx(data, stem, str(path))
        arr = parse_idx(raw, str(path))
        expected_magic = 0x0803 if "images" in stem else 0x0801
        magic = int.from_bytes(raw[:4], "big")
        if magic != expected_magic:
            raise ValueError(f"{path}: magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
                             f"for {'images' if 'images' in stem else 'labels'}")
        if "images" in stem:
            if arr.ndim != 3 or arr.shape[1:] != (28, 28):
                raise ValueError(f"{path}: expected images of shape (N, 28, 28), got {arr.shape}")
        elif arr.ndim != 1 or (arr.size and arr.max() >= 10):
            raise ValueError(f"{path}: expected labels of shape (N,) in 0..9, got shape {arr.shape}")
        arr = arr.astype(np.int64) if "labels" in stem else np.array(arr)  # own, native-order memory
        arr.setflags(write=False)  # read-only, so instances can share it
        _IDXImages._cache[key] = arr
        return arr

    def _download(self, stem: str) -> Path:
        dest_dir = self.download_dir()
        errors = []
        for mirror in self.mirrors:
            url = mirror + f"{stem}.gz"
            try:
                limit = self.max_bytes(stem) + (1 << 20)
                with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 (fixed mirror URLs)
                    data = r.read(limit + 1)
                if len(data) > limit:
                    raise ValueError(f"more than {limit} bytes, larger than any {self.name} file")
                self._checked_idx(data, stem, url)
            except (OSError, ValueError) as e:
                errors.append(f"{url}: {e}")
                continue
            dest_dir.mkdir(parents=True, exist_ok=True)
            dest = dest_dir / f"{stem}.gz"
            atomic_write(dest, [data])
            return dest
        raise OSError("; ".join(errors) or "no mirror")

    # dataset protocol ---------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """(B, 28, 28) uint8 images and (B,) int64 labels at once (per sample when transforms are set)."""
        if self.transform is None and self.target_transform is None:
            return self.data[indices], self.targets[indices]
        from .dataset import _stack_samples

        return _stack_samples([self[int(i)] for i in indices])[0]

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return (f"Dataset {self.name}\n    Number of datapoints: {len(self)}\n    Split: {split.capitalize()}\n"
                f"    Files: {self.paths[self.files[split][0]]}")


class MNIST(_IDXImages):
    """Handwritten digits: 60,000 train / 10,000 test images, 28x28 uint8, labels 0..9."""

    name = "MNIST"
    subdirs = ("mnist", "MNIST/raw")
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
    # .gz digests: the official files (md5 as published by LeCun; sha256 as in shared/data/README.md);
    # raw digests: the decompressed IDX bytes, for copies that were gzipped again or unpacked.
    digests = {
        "train-images-idx3-ubyte": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                                    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        "train-labels-idx1-ubyte": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                                    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        "t10k-images-idx3-ubyte": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                                   "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        "t10k-labels-idx1-ubyte": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                                   "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]


class FashionMNIST(_IDXImages):
    """Zalando's article images: 60,000 train / 10,000 test, 28x28 uint8, 10 balanced classes."""

    name = "FashionMNIST"
    subdirs = ("fashion-mnist", "FashionMNIST/raw")
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    use_system_dirs = True
    # Only the decompressed digests are checked: measured on Debian's dataset-fashion-mnist
    # (0.0~git20200523.55506a9-1), whose IDX content is upstream's while its .gz headers were normalised
    # (so its .gz sha256s differ from upstream's published md5s). Upstream .gz files decompress to the same bytes.
    digests = {
        "train-images-idx3-ubyte": (None, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        "train-labels-idx1-ubyte": (None, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        "t10k-images-idx3-ubyte": (None, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        "t10k-labels-idx1-ubyte": (None, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


def search_dirs(dataset: str = "MNIST") -> list[Path]:
    """The folders `datasets.<dataset>` looks in, in order."""
    return {"MNIST": MNIST, "FashionMNIST": FashionMNIST}[dataset].search_dirs()
