"""MNIST and Fashion-MNIST from their original IDX files (gzip-compressed or not), and CIFAR-10 from its
binary-version batches, checked and parsed. (CIFAR-10 specifics: see the CIFAR10 class below.)

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

__all__ = ["MNIST", "FashionMNIST", "CIFAR10", "DatasetCorruptError", "inflate_idx", "parse_idx", "search_dirs"]

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


class _LabelledImages(Dataset):
    """An in-memory image dataset: `data` (N, *image) uint8, an int64 label per image (`_label_array`),
    torchvision's `transform` / `target_transform`; items, length and whole batches."""

    data: np.ndarray
    transform: Any
    target_transform: Any

    def _label_array(self) -> np.ndarray:
        """The (N,) int64 labels that items and batches read."""
        raise NotImplementedError

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = self.data[index], int(self._label_array()[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """(B, *image) uint8 images (or the transform of the whole batch) and (B,) int64 labels at once."""
        return _batch_with_transforms(self, indices)


class _IDXImages(_LabelledImages):
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

    def __init__(self, root: str | os.PathLike[str] | None = None, train: bool = True, transform: Any = None,
                 target_transform: Any = None, download: bool = True):  # torchvision's argument order
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
    def _label_array(self) -> np.ndarray:
        return self.targets

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
    cls: Any = {"MNIST": MNIST, "FashionMNIST": FashionMNIST, "CIFAR10": CIFAR10}[dataset]
    return list(cls.search_dirs())


# CIFAR-10 ------------------------------------------------------------------------------------------------------
class DatasetCorruptError(ValueError, RuntimeError):
    """A dataset file was found but fails its checks (checksum, size, layout); the message names it."""


CIFAR_RECORD = 3073  # bytes per image in the binary version: 1 label byte, then 1024 R, 1024 G, 1024 B
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


class _CifarFile:
    """One file of a CIFAR-10 copy: where it lives in the dataset folder, its records and known digests."""

    def __init__(self, name: str, folder: str, records: int, sha256: str, raw_sha256: str | None = None):
        self.name, self.folder, self.records, self.sha256, self.raw_sha256 = name, folder, records, sha256, raw_sha256

    def candidates(self, d: Path) -> list[Path]:
        """Where the file may be under the folder d: d/<folder>/<name> first, then d/<name> (and for a
        .gz file the same without .gz: a copy someone decompressed, checked against the raw digest)."""
        names = [self.name] + ([self.name[:-3]] if self.name.endswith(".gz") else [])
        return [d / self.folder / n for n in names] + [d / n for n in names]


_FULL = "full"
_EXACT = "subset-bin"
CIFAR_FILES: dict[tuple[bool, bool], list[_CifarFile]] = {
    # (exact, train) -> files, in the order their records are concatenated; digests from shared/data/README.md
    (False, True): [
        _CifarFile("data_batch_1.bin.gz", _FULL, 10000,
                   "8386af9b1b4baab63ba785c5ffa24a1b07085070c87a575e8b73f7425f776bb1",
                   "8da035fc1631e8ce5f25904206b8993b0f3ad02a504c0584d662e806fd76c12b"),
        _CifarFile("data_batch_2.bin.gz", _FULL, 10000,
                   "dbc4e403d8889c1b7037395f50141d73dd47cd155ec145f3d92de1e85799f43b",
                   "106eeaad9f1fa7a999292fdafe68ee909080f58aee038a76994035aedf40ba26"),
        _CifarFile("data_batch_3.bin.gz", _FULL, 10000,
                   "a4faac63f600ae0e40af647a96245e75acdcc04e8e89a79181341e8b6b636eb7",
                   "99cb88ba00fca88bf28c517a74307b6b78a346c6ea747a561cb8e660c787d5cb"),
        _CifarFile("data_batch_4.bin.gz", _FULL, 10000,
                   "deb66e3b28e69af1a89a9f54031c4688c14a5bc9f5857a5bdd3fdb0dc08c5cac",
                   "76b482bc3bb79c0370e48ea71bb6e4f567a3770d224dc09a9ddc8cfa2369f294"),
        _CifarFile("data_batch_5.bin.gz", _FULL, 10000,
                   "c567fc6cec9a1dd06dbdef643ce3ad98d108e9a53c1e9cd62c386ee2909c1e5f",
                   "490f5ead4f04a3eb71d5898eb551e0d8d2c592feb778fb9b109a006b3f231495"),
    ],
    (False, False): [
        _CifarFile("test_batch.bin.gz", _FULL, 10000,
                   "35e4493dca10ab2e94ff96d00951cfda963215045aaf9498afdd7d66469fbd77",
                   "0ce179d0c0a5220739d6223197952896644ceabb648dacfdebd7f06789af543f"),
    ],
    (True, True): [
        _CifarFile("data_batch_1.first4000.bin", _EXACT, 4000,
                   "0993cf8b8e43bc207603aef9787006995746513f5e3fa5a52e06d1b069926330"),
        _CifarFile("data_batch_2.first164.bin", _EXACT, 164,
                   "095163c1d72006a54a6ac26283ed8ab4802b296e91eafe838a1f5af38abcfcb8"),
        _CifarFile("data_batch_3.first164.bin", _EXACT, 164,
                   "7cc411fbd8876b9eeb40bd6cc9f8d0afde11477f5bcc8cbaf26127b0dd67e297"),
        _CifarFile("data_batch_4.first164.bin", _EXACT, 164,
                   "9865b3162345dc8da7186b7d768bc7519f6a3df64b0aa7ea39214e5700811d77"),
        _CifarFile("data_batch_5.first164.bin", _EXACT, 164,
                   "f84e166c3f7ea9097d7411d630cc72ed22be70a9e265e9b48c2d60b578b200da"),
    ],
    (True, False): [
        _CifarFile("test_batch.first1000.bin", _EXACT, 1000,
                   "8314c96d7cd65618193bab23acdd5d4c4af15bf6dd00a1781d55beedf3be1ef5"),
    ],
}
CIFAR_META = _CifarFile("batches.meta", "", 0, "f962466ef690d46b226450fb9aadc74ba4bc64a76aa526b5827fe4bc5c7125cb")


def _read_cifar_records(path: Path, f: _CifarFile) -> np.ndarray:
    """The (records, 3073) uint8 records of a CIFAR-10 file after its checks; DatasetCorruptError naming
    the file when its size, sha256 (of the .gz or of the decompressed bytes) or layout is wrong."""
    need = f.records * CIFAR_RECORD
    st_size = path.stat().st_size
    if st_size > need + (1 << 20):
        raise DatasetCorruptError(f"{path}: {st_size} bytes, larger than this CIFAR-10 file can be ({need} bytes "
                                  "of records): not the expected file")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DatasetCorruptError(f"{path}: unreadable ({e.strerror})") from None
    if data[:2] == b"\x1f\x8b":  # gzip: check the .gz digest, then inflate at most `need` + 1 bytes
        gz_ok = hashlib.sha256(data).hexdigest() == f.sha256
        try:
            d = zlib.decompressobj(wbits=31)
            raw = d.decompress(data, need + 1)
        except zlib.error as e:
            raise DatasetCorruptError(f"{path}: corrupt gzip stream ({e}); expected the CIFAR-10 file with sha256 "
                                      f"{f.sha256}") from None
        if len(raw) != need or not d.eof:
            raise DatasetCorruptError(f"{path}: inflates to {'more than ' if len(raw) > need else ''}{len(raw)} "
                                      f"bytes{'' if d.eof or len(raw) > need else ' (truncated stream)'}, expected "
                                      f"{need} ({f.records} records of {CIFAR_RECORD} bytes)")
        if not gz_ok and hashlib.sha256(raw).hexdigest() != f.raw_sha256:
            raise DatasetCorruptError(f"{path}: sha256 does not match the known CIFAR-10 file {f.name} "
                                      f"({f.sha256}): a different or corrupt file")
    else:
        raw = data
        digest = hashlib.sha256(raw).hexdigest()
        if digest not in (f.sha256, f.raw_sha256):
            what = f"{len(raw)} bytes, expected {need}" if len(raw) != need else "a different or corrupt file"
            raise DatasetCorruptError(f"{path}: sha256 {digest[:16]}… does not match the known CIFAR-10 file "
                                      f"{f.name} ({(f.raw_sha256 or f.sha256)[:16]}…): {what}")
    rec = np.frombuffer(raw, np.uint8).reshape(-1, CIFAR_RECORD)
    if rec.shape[0] != f.records or rec[:, 0].max(initial=0) > 9:
        raise DatasetCorruptError(f"{path}: not {f.records} CIFAR-10 records with labels 0..9")
    return rec


def _check_cifar_meta(path: Path) -> list[str]:
    """The class names of a batches.meta (the original pickle, identified by its sha256 and never unpickled)
    or batches.meta.txt (the binary version's: one name a line); DatasetCorruptError naming the file."""
    data = path.read_bytes()
    if path.suffix == ".txt":
        names = [ln.strip() for ln in data.decode("ascii", "replace").splitlines() if ln.strip()]
        if names != CIFAR_CLASSES:
            raise DatasetCorruptError(f"{path}: class names {names} are not CIFAR-10's {CIFAR_CLASSES}")
        return names
    if hashlib.sha256(data).hexdigest() != CIFAR_META.sha256:
        raise DatasetCorruptError(f"{path}: sha256 does not match the known CIFAR-10 batches.meta "
                                  f"({CIFAR_META.sha256[:16]}…): a different or corrupt file")
    # the known file holds the names as protocol-2 short strings: opcode 'U', a length byte, the bytes
    pos = 0
    for name in CIFAR_CLASSES:
        pos = data.find(b"U" + bytes([len(name)]) + name.encode(), pos)
        if pos < 0:
            raise DatasetCorruptError(f"{path}: class name {name!r} not found")
    return list(CIFAR_CLASSES)


class CIFAR10(_LabelledImages):
    """CIFAR-10: 32x32 RGB images in 10 classes; the complete lossy copy (50,000 train / 10,000 test),
    or with exact=True the lossless subset (4,656 train / 1,000 test).

    `data` (N, 32, 32, 3) uint8 is a read-only numpy array shared between instances (each file is read and
    checked once per process) and `targets` a list of N ints, as torchvision's (batches read the labels from
    the same values kept as an int64 array: assign a new list to `targets` to relabel, do not edit it in
    place); `ds[i]` is (image, label) with the image
    an (32, 32, 3) uint8 array, or what `transform` makes of it ((3, 32, 32) float32 Tensor after ToTensor).
    Files are looked for in `root` (when given), else $TINYTORCH_DATA, ../shared/data, the user data dir —
    each folder itself and its `cifar10/` subfolder; the complete copy under `full/`, the subset under
    `subset-bin/`, class names in `batches.meta`. exact=None (the default) takes the complete copy, or the
    subset when no file of the complete copy is found (root pointing at a subset-bin/ folder); exact=False
    insists on the complete copy, exact=True on the subset; `.exact` says which was read. Nothing is
    fetched over the network (no source of these copies exists online): download=True with a root that
    lacks the files reads them from the folders searched without root (torchvision's
    `CIFAR10("./data", download=True)` works), and raises with what to do when they are nowhere.
    """

    name = "CIFAR10"
    subdirs = ("cifar10", "cifar-10-batches-bin")
    classes = list(CIFAR_CLASSES)
    class_to_idx = {c: i for i, c in enumerate(CIFAR_CLASSES)}

    # (exact, train, resolved path, size, mtime_ns of every file) -> (data, targets), shared across instances
    _cache: LRU[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = LRU(4)

    def __init__(self, root: str | os.PathLike[str] | None = None, train: bool = True, transform: Any = None,
                 target_transform: Any = None, download: bool = False, exact: bool | None = None):
        self.root = None if root is None else Path(root)
        self.train = bool(train)
        self.transform, self.target_transform = transform, target_transform
        dirs = self.search_dirs(self.root)
        if download and self.root is not None:  # nothing to fetch over the network: the staged copies stand in
            dirs += [d for d in self.search_dirs(None) if d not in dirs]
        if exact is None:  # the complete copy, unless none of its files is there but the subset's are
            own = self.search_dirs(self.root)
            has_full, has_exact = (bool(self._find(CIFAR_FILES[(e, self.train)], own)) for e in (False, True))
            if not (has_full or has_exact):
                has_full, has_exact = (bool(self._find(CIFAR_FILES[(e, self.train)], dirs)) for e in (False, True))
            exact = has_exact and not has_full
        self.exact = bool(exact)
        files = CIFAR_FILES[(self.exact, self.train)]
        paths, meta = self._locate(files, dirs, download)
        key = (self.exact, self.train, *((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths),
               str(meta.resolve()), meta.stat().st_mtime_ns)
        hit = CIFAR10._cache.get(key)
        if hit is None:
            hit = self._load(files, paths)
            CIFAR10._cache[key] = hit
        self.data: np.ndarray = hit[0]  # (N, 32, 32, 3) uint8, read-only
        self._labels: np.ndarray = hit[1]  # (N,) int64, read-only: what batches read
        self._targets: list[int] = self._labels.tolist()
        self.paths = paths
        self.meta_path = meta

    @classmethod
    def search_dirs(cls, root: str | os.PathLike[str] | None = None) -> list[Path]:
        """The folders searched, in order (each base folder followed by its cifar10/ subfolders)."""
        if root is not None:
            bases = [Path(root)]
        else:
            bases = [Path(os.environ["TINYTORCH_DATA"])] if os.environ.get("TINYTORCH_DATA") else []
            bases += [_shared_data_dir(), Path(data_dir()) / "datasets", Path(cache_dir()) / "datasets"]
        out: list[Path] = []
        for b in bases:
            for d in (b, *(b / s for s in cls.subdirs)):
                if d not in out:
                    out.append(d)
        return out

    @staticmethod
    def _find(files: list[_CifarFile], dirs: list[Path]) -> dict[str, Path]:
        """file name -> the first existing candidate path in the search order (files not found are left out)."""
        found: dict[str, Path] = {}
        for f in files:
            for d in dirs:
                hit = next((p for p in f.candidates(d) if p.is_file()), None)
                if hit is not None:
                    found[f.name] = hit
                    break
        return found

    def _locate(self, files: list[_CifarFile], dirs: list[Path], download: bool) -> tuple[list[Path], Path]:
        """The path of each file (the first existing candidate in the search order) and of batches.meta
        next to them; FileNotFoundError naming the missing files and the folders searched."""
        found = self._find(files, dirs)
        meta = None
        if found:
            first = found[files[0].name].parent
            for folder in (first, first.parent):
                meta = next((p for p in (folder / "batches.meta", folder / "batches.meta.txt") if p.is_file()), None)
                if meta is not None:
                    break
        missing = [f.name for f in files if f.name not in found]
        if meta is None:
            missing.append("batches.meta")
        if missing:
            copy = (f"the exact subset ({_EXACT}/)" if self.exact else f"the complete lossy copy ({_FULL}/)")
            tried = "\n".join(f"  {d}" for d in dirs)
            note = ("download=True: these copies cannot be downloaded (they were assembled offline, see "
                    "shared/data/README.md); the folders above include where staged copies are looked for.\n"
                    if download else "")
            raise FileNotFoundError(
                f"{self.name}: could not find {', '.join(missing)} of {copy}.\nLooked in:\n{tried}\n{note}"
                f"Put the CIFAR-10 folder (batches.meta, {_FULL}/, {_EXACT}/) in one of these folders or pass its "
                "path as root= (set $TINYTORCH_DATA to choose a folder).")
        assert meta is not None
        self.classes = _check_cifar_meta(meta)
        return [found[f.name] for f in files], meta

    @staticmethod
    def _load(files: list[_CifarFile], paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
        """Read, check and unpack the files (two at a time: inflating and hashing release the GIL)."""
        from concurrent.futures import ThreadPoolExecutor

        starts = np.cumsum([0] + [f.records for f in files])
        data = np.empty((int(starts[-1]), 32, 32, 3), np.uint8)
        targets = np.empty(int(starts[-1]), np.int64)

        def one(i: int) -> None:
            rec = _read_cifar_records(paths[i], files[i])
            lo, hi = int(starts[i]), int(starts[i + 1])
            targets[lo:hi] = rec[:, 0]
            data[lo:hi] = rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # CHW planes -> HWC

        with ThreadPoolExecutor(max_workers=min(2, len(files))) as ex:
            for fut in [ex.submit(one, i) for i in range(len(files))]:
                fut.result()  # re-raises the first file's error, naming it
        data.setflags(write=False)
        targets.setflags(write=False)
        return data, targets

    def _label_array(self) -> np.ndarray:
        return self._labels

    @property
    def targets(self) -> list[int]:
        """The label (0..9) of each image, a list of ints as torchvision's."""
        return self._targets

    @targets.setter
    def targets(self, value: Any) -> None:
        labels = np.asarray(value, dtype=np.int64).reshape(-1)
        if labels.shape[0] != len(self):
            raise ValueError(f"CIFAR10: {labels.shape[0]} targets for {len(self)} images")
        self._labels, self._targets = labels, labels.tolist()

    def __repr__(self) -> str:
        copy = "exact subset" if self.exact else "complete (lossy JPEG q75)"
        return (f"Dataset {self.name}\n    Number of datapoints: {len(self)}\n    Split: "
                f"{'Train' if self.train else 'Test'}\n    Copy: {copy}\n    Root location: {self.paths[0].parent}")


def _batch_with_transforms(ds: Any, indices: np.ndarray) -> tuple[np.ndarray, ...]:
    """Images and labels at indices; one of our transforms runs on the whole batch (numpy, no Tensor made),
    any other callable per sample."""
    from .dataset import _field_numpy
    from .transforms import Transform

    imgs, targets = ds.data[indices], ds._label_array()[indices]
    t = ds.transform
    if isinstance(t, Transform):
        imgs = t.numpy(imgs, batched=True)
    elif t is not None:
        imgs = np.stack([_field_numpy(t(im)) for im in imgs])
    if ds.target_transform is not None:
        targets = np.stack([_field_numpy(ds.target_transform(int(y))) for y in targets])
    return imgs, targets
