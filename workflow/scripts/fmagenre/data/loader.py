"""A packed split as torch tensors for training and prediction: in memory, or streamed from disk.

:class:`Split` holds the normalised ``x`` on its storage device (the GPU when it fits there, else
the CPU); :class:`StreamedSplit` reads the tracks a batch needs from the pack (index-sampled,
through :class:`fmagenre.data.pack.PackArray`) and normalises them with the same float32
operations, so a streamed training run sees bit-identical batches and ends with the same weights
as an in-memory one (tested). Both give the training loop the same calls: ``batches`` (each
batch's windows; a streamed split reads them ahead in a thread), ``chunks`` (consecutive tracks,
for prediction) and ``subset``.
"""

from __future__ import annotations

import copy
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from fmagenre.data.pack import PackArray
from fmagenre.models.checkpoint import normalise

log = logging.getLogger(__name__)

# Batches a streamed split reads ahead in a background thread while the model computes (HDF5 reads
# and torch kernels both release the GIL, so the reading hides behind the compute).
PREFETCH = 2
# A split stays in GPU memory when it takes at most this fraction of the free memory; else batches
# are gathered on the CPU and copied (fma_large mel does not fit, fma_small does).
DEVICE_DATA_FRACTION = 0.5
# A streamed split reads into a ring of reusable buffers: fresh batch-sized arrays allocated in the
# read-ahead thread and freed in the main one fragment glibc's heap, so peak RSS grew with the
# number of chunks (measured: +17 % from N to 4N tracks). The fix before this one, a fixed 128 KB
# mmap threshold, kept RSS flat but made every large allocation of the process (the model's
# activations too) a fresh mmap: streamed and in-memory training alike ran at ~0.6x.


def storage_device(nbytes: int, device: torch.device) -> torch.device:
    """Where a split's arrays live: on the compute device when they fit, else on the CPU."""
    if device.type != "cuda":
        return device
    free, _ = torch.cuda.mem_get_info(device)
    if nbytes <= DEVICE_DATA_FRACTION * free:
        return device
    log.info(
        "%.1f GB of data exceed half the free GPU memory: batches are copied from the CPU",
        nbytes / 1e9,
    )
    return torch.device("cpu")


def prefetched(
    reads: Iterable[Callable[[], torch.Tensor]], ahead: int = PREFETCH
) -> Iterator[torch.Tensor]:
    """The results of ``reads`` in order, each started up to ``ahead`` reads early in one thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: deque = deque()
        for read in reads:
            pending.append(pool.submit(read))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


class _Labels:
    """Labels, targets and the normalisation of one split (small: O(N) and O(C))."""

    def _labels(self, pack: dict, mean: np.ndarray, std: np.ndarray, storage: torch.device):
        self.storage = storage
        self.stats = {"mean": np.asarray(mean, np.float32), "std": np.asarray(std, np.float32)}
        self.y = torch.from_numpy(pack["y"].astype(np.int64)).to(storage)
        self.y_multi = torch.from_numpy(pack["y_multi"].astype(np.float32)).to(storage)

    def normalise(self, x: np.ndarray) -> torch.Tensor:
        return normalise(torch.from_numpy(x).to(self.storage), self.stats)


class Split(_Labels):
    """One split in memory: normalised x [N, C, T], labels, multi-hot targets on its storage
    device; ``device`` is where the model computes."""

    def __init__(self, pack: dict, mean: np.ndarray, std: np.ndarray, device: torch.device):
        self.device = device
        self._labels(pack, mean, std, storage_device(pack["x"].nbytes, device))
        self.x = self.normalise(pack["x"])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape)

    def windows(self, track: torch.Tensor, first: torch.Tensor, within: torch.Tensor):
        """[B, C, frames]: track ``track[i]`` from frame ``first[i]`` (``within``: the frames)."""
        return self.x[track[:, None], :, first[:, None] + within].transpose(1, 2)

    def batches(self, batches, within: torch.Tensor) -> Iterator[torch.Tensor]:
        """:meth:`windows` of each (track, first) pair of ``batches``, in order."""
        for track, first in batches:
            yield self.windows(track, first, within)

    def chunks(self, rows: int) -> Iterator[torch.Tensor]:
        yield self.x

    def subset(self, index: torch.Tensor) -> Split:
        part = copy.copy(self)
        index = index.to(self.x.device)
        part.x, part.y, part.y_multi = self.x[index], self.y[index], self.y_multi[index]
        return part


class _Ring:
    """``size`` reusable (stored-dtype array, float32 tensor) pairs, handed out in turn by the one
    read-ahead thread; a slot grows when a read needs more tracks than it holds."""

    def __init__(self, size: int, shape: tuple[int, int], dtype: np.dtype):
        self.slots: list = [None] * size
        self.turn, self.shape, self.dtype = 0, shape, dtype

    def take(self, n: int) -> tuple[np.ndarray, torch.Tensor]:
        slot = self.slots[self.turn]
        if slot is None or len(slot[0]) < n:
            stored = np.empty((n, *self.shape), dtype=self.dtype)
            slot = self.slots[self.turn] = (stored, torch.empty(stored.shape, dtype=torch.float32))
        self.turn = (self.turn + 1) % len(self.slots)
        return slot[0][:n], slot[1][:n]


class StreamedSplit(_Labels):
    """One split read from its pack on demand: only a batch (or a prediction chunk) in memory.

    A yielded batch or chunk is overwritten ``ahead + 2`` reads later (ring buffers, see above):
    a consumer uses each one before asking for the next, as the training loop and ``predict`` do.
    """

    def __init__(self, pack: dict, mean: np.ndarray, std: np.ndarray, device: torch.device):
        self.device = device
        self.array: PackArray = pack["x"]
        self._labels(pack, mean, std, torch.device("cpu"))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.array.shape)

    def _read(self, ring: _Ring, index) -> torch.Tensor:
        """Tracks ``index`` (order and repeats kept) normalised into the ring's next float32 slot."""
        stored, x = ring.take(len(index))
        self.array.rows(index, out=stored)
        x.copy_(torch.from_numpy(stored))
        return normalise(x, self.stats, inplace=True)

    def _ring(self, ahead: int) -> _Ring:
        # the consumer's batch, ``ahead`` reads done or waiting and the one being read
        return _Ring(ahead + 2, self.array.shape[1:], self.array.stored_dtype)

    def windows(self, ring: _Ring, track: torch.Tensor, first: torch.Tensor, within: torch.Tensor):
        """The batch's tracks read in batch order (a repeated track is read again) into ``ring``;
        windows cut out unless they are the whole track."""
        x = self._read(ring, track.numpy())
        if len(within) == x.shape[2]:
            return x
        rows = torch.arange(len(x))[:, None]
        return x[rows, :, first[:, None] + within].transpose(1, 2)

    def batches(self, batches, within: torch.Tensor) -> Iterator[torch.Tensor]:
        ring = self._ring(PREFETCH)
        reads = (
            lambda t=track, f=first: self.windows(ring, t, f, within) for track, first in batches
        )
        return prefetched(reads)

    def chunks(self, rows: int) -> Iterator[torch.Tensor]:
        ring, n = self._ring(1), len(self.array)
        reads = (
            lambda s=start: self._read(ring, np.arange(s, min(s + rows, n)))
            for start in range(0, n, rows)
        )
        return prefetched(reads, ahead=1)  # chunks are big: one in flight

    def subset(self, index: torch.Tensor) -> Split:
        pack = {
            "x": self.array.rows(index.numpy()),
            "y": self.y[index].numpy(),
            "y_multi": self.y_multi[index].numpy(),
        }
        return Split(pack, self.stats["mean"], self.stats["std"], self.device)


def make_split(pack: dict, mean: np.ndarray, std: np.ndarray, device: torch.device):
    """:class:`Split` for a pack read into memory, :class:`StreamedSplit` for a streamed one."""
    kind = StreamedSplit if isinstance(pack["x"], PackArray) else Split
    return kind(pack, mean, std, device)
