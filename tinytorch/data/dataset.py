"""Datasets and the DataLoader that turns them into batches of Tensors.

Takes: a Dataset (anything with `__len__` and `__getitem__`; TensorDataset wraps arrays/Tensors)
and batching settings (batch_size, shuffle, drop_last, seed).
Produces: an iterable of batches; each batch is one Tensor per field (a tuple of them when samples
are tuples), built from one stacked numpy array per field — never one Tensor per sample.

Fast path: a dataset that defines `get_batch(indices) -> tuple of numpy arrays` (TensorDataset,
MNIST, CIFAR10) is indexed with the whole index array at once (and applies its transforms to the whole
batch). Other datasets are read sample by sample and their fields stacked with numpy.

Background loading: with num_workers=k > 0, k threads prepare the next batches (indexing, transforms,
stacking: numpy work, which releases the GIL) while the main thread trains; prefetch_factor batches per
worker are kept ready. Batches come out in order, and the random augmentations of batch j of an epoch
draw from a stream seeded by (the loader's seed, epoch, j), so results do not depend on num_workers or
thread timing. Only the main thread makes Tensors: the compiler is not thread-safe, so a dataset or
transform that builds or computes Tensors itself must be read with num_workers=0.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from ..dtype import to_dtype
from ..tensor import Tensor, _rng
from .transforms import Transform, generator_scope

__all__ = ["Dataset", "TensorDataset", "Subset", "DataLoader", "random_split"]


class Dataset:
    """Base class: subclasses define __len__ and __getitem__(i) -> a sample (an array, or a tuple of them)."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


def _field_numpy(x: Any) -> np.ndarray:
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


def _stack_samples(samples: list[Any]) -> tuple[tuple[np.ndarray, ...], bool]:
    """Stack per-sample fields: ([s0, s1, ...]) -> (one array per field, whether samples were tuples)."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        n = len(first)
        for i, s in enumerate(samples):
            if not isinstance(s, (tuple, list)) or len(s) != n:
                raise ValueError(f"DataLoader: sample {i} has a different structure than sample 0 "
                                 f"({type(s).__name__} vs a {type(first).__name__} of {n} fields)")
        fields = []
        for j in range(n):
            try:
                fields.append(np.stack([_field_numpy(s[j]) for s in samples]))
            except ValueError as e:
                raise ValueError(f"DataLoader: field {j} of the samples can't be stacked into a batch ({e})") from None
        return tuple(fields), True
    try:
        return (np.stack([_field_numpy(s) for s in samples]),), False
    except ValueError as e:
        raise ValueError(f"DataLoader: samples can't be stacked into a batch ({e})") from None


class TensorDataset(Dataset):
    """Sample i is (t0[i], t1[i], ...) of tensors/arrays sharing their first dimension."""

    def __init__(self, *tensors: Any):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.tensors = tuple(tensors)
        # index the numpy arrays directly; remember each field's tinytorch dtype (bfloat16 comes back as float32)
        self.arrays = tuple(np.asarray(_field_numpy(t)) for t in tensors)
        self._field_dtypes = tuple(t.dtype if isinstance(t, Tensor) else None for t in tensors)
        n = {a.shape[0] if a.ndim else None for a in self.arrays}
        if len(n) != 1 or None in n:
            raise ValueError("TensorDataset: size mismatch between tensors: first dims "
                             f"{[a.shape[0] if a.ndim else '0-d' for a in self.arrays]}")

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        """Sample `index`: a Tensor for each Tensor field (as torch's TensorDataset), an array for an array field."""
        return tuple(a[index] if dt is None else Tensor(np.array(a[index]), dtype=dt)
                     for a, dt in zip(self.arrays, self._field_dtypes))

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(a[indices] for a in self.arrays)


class Subset(Dataset):
    """The samples of `dataset` at `indices`."""

    def __init__(self, dataset: Any, indices: Sequence[int]):
        self.dataset, self.indices = dataset, np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        inner = self.indices[indices]
        if hasattr(self.dataset, "get_batch"):
            return tuple(self.dataset.get_batch(inner))
        return _stack_samples([self.dataset[int(i)] for i in inner])[0]


def random_split(dataset: Any, lengths: Sequence[int], seed: int | None = None) -> list[Subset]:
    """Split into non-overlapping Subsets of the given lengths (a random permutation)."""
    if sum(lengths) != len(dataset):
        raise ValueError(f"random_split: sum of lengths {sum(lengths)} != length of the dataset {len(dataset)}")
    rng = np.random.default_rng(seed if seed is not None else int(_rng[0].integers(2**63)))
    perm = rng.permutation(len(dataset))
    out, start = [], 0
    for n in lengths:
        out.append(Subset(dataset, perm[start:start + n].tolist()))
        start += n
    return out


class DataLoader:
    """Iterate over a dataset in batches: each batch is a Tensor per field (tuple when samples are tuples).

    shuffle=True draws a new permutation per epoch from a generator seeded by `seed` (or, when None,
    by tinytorch's generator at construction, so `tinytorch.manual_seed` makes it reproducible).
    drop_last=True skips a final batch smaller than batch_size. `device` places the batches.
    num_workers=k > 0 prepares batches in k background threads, prefetch_factor (default 2) per worker
    ahead of the consumer; batch_transform (e.g. a transforms.Compose) is applied to the first field of
    each whole batch (the images), in the worker. With collate_fn, samples are read and collated in the main
    thread (they may be Tensors). pin_memory and persistent_workers are accepted for PyTorch code and change
    nothing (CPU only; the threads are cheap to start each epoch).
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None, device: str | None = None, collate_fn: Any = None, *,
                 num_workers: int = 0, prefetch_factor: int | None = None,
                 batch_transform: Callable[[Any], Any] | None = None, pin_memory: bool = False,
                 persistent_workers: bool = False):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must define __len__ and __getitem__, got {type(dataset).__name__}")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size should be a positive integer, got {batch_size!r}")
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be non-negative; use num_workers=0 to load in "
                             f"the main thread, got {num_workers!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor option could only be specified with num_workers > 0 "
                             "(background loading); otherwise set prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if prefetch_factor is not None and (not isinstance(prefetch_factor, int) or prefetch_factor < 1):
            raise ValueError(f"DataLoader: prefetch_factor should be a positive integer, got {prefetch_factor!r}")
        if batch_transform is not None and not callable(batch_transform):
            raise TypeError(f"DataLoader: batch_transform should be callable, got {type(batch_transform).__name__}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.device, self.collate_fn, self.seed = device, collate_fn, seed
        self.num_workers, self.batch_transform, self.pin_memory = num_workers, batch_transform, pin_memory
        self.prefetch_factor = prefetch_factor if prefetch_factor is not None or num_workers == 0 else 2
        base = seed if seed is not None else int(_rng[0].integers(2**63))
        self._gen = np.random.default_rng(base)  # shuffling
        self._aug = np.random.default_rng([base, 1])  # one seed per epoch for the batches' augmentations

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        return self._gen.permutation(n) if self.shuffle else np.arange(n)

    def _fetch(self, idx: np.ndarray) -> tuple[tuple[np.ndarray, ...], bool]:
        ds = self.dataset
        if hasattr(ds, "get_batch"):
            return tuple(ds.get_batch(idx)), True
        return _stack_samples([ds[int(i)] for i in idx])

    def _to_tensor(self, arr: np.ndarray, dt: Any) -> Tensor:
        if dt is None:
            try:
                dt = to_dtype(arr.dtype)  # keep the array's dtype (float64 stays float64), as torch's collate does
            except (TypeError, ValueError, KeyError):
                dt = None  # e.g. uint16: Tensor() picks the default of its kind
        return Tensor(np.ascontiguousarray(arr), dtype=dt, device=self.device)

    def _prepare(self, idx: np.ndarray, seed: tuple[int, int]) -> tuple[Any, bool, list[Any]]:
        """Batch idx as numpy (no Tensor made, so it may run in a worker thread): (fields or the samples for
        collate_fn, whether samples are tuples, the dtype of each field's Tensor or None for its array's)."""
        if self.collate_fn is not None:  # samples and collate_fn may make Tensors: both run in _finish
            return (idx, seed), False, []
        with generator_scope(np.random.default_rng(seed)):
            fields, as_tuple = self._fetch(idx)
            field_dtypes = getattr(self.dataset, "_field_dtypes", None)
            dts: list[Any] = [None] * len(fields)
            if field_dtypes is not None and len(field_dtypes) == len(fields):
                dts = list(field_dtypes)
            if self.batch_transform is not None:
                t, first = self.batch_transform, fields[0]
                if isinstance(t, Transform):  # a Tensor field is channels-first, an array field channels-last
                    first = t.numpy(first, batched=True, channels_last=dts[0] is None)
                else:
                    first = t(first)
                fields = (first.numpy() if isinstance(first, Tensor) else np.asarray(first), *fields[1:])
                dts[0] = None
            return tuple(np.ascontiguousarray(a) for a in fields), as_tuple, dts

    def _finish(self, prepared: tuple[Any, bool, list[Any]]) -> Any:
        """The batch's Tensors (main thread only)."""
        fields, as_tuple, dts = prepared
        if self.collate_fn is not None:
            idx, seed = fields
            with generator_scope(np.random.default_rng(seed)):
                return self.collate_fn([self.dataset[int(i)] for i in idx])
        out = tuple(self._to_tensor(a, d) for a, d in zip(fields, dts))
        return out if as_tuple else out[0]

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        epoch = int(self._aug.integers(2**63))
        n, bs = len(order), self.batch_size
        stop = (n // bs) * bs if self.drop_last else n
        jobs = [(order[start:start + bs], (epoch, k)) for k, start in enumerate(range(0, stop, bs))]
        if self.num_workers == 0:
            for idx, seed in jobs:
                yield self._finish(self._prepare(idx, seed))
            return
        ahead = self.num_workers * (self.prefetch_factor or 2)
        ex = ThreadPoolExecutor(max_workers=self.num_workers, thread_name_prefix="tinytorch-DataLoader")
        pending: deque[Future[Any]] = deque()
        try:
            it = iter(jobs)
            for idx, seed in it:
                pending.append(ex.submit(self._prepare, idx, seed))
                if len(pending) >= ahead:
                    break
            while pending:
                prepared = pending.popleft().result()  # an exception in the worker is raised here
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(ex.submit(self._prepare, *nxt))
                yield self._finish(prepared)
        finally:
            for f in pending:
                f.cancel()
            ex.shutdown(wait=True)
