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

import contextlib
import copy
import ctypes
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
# glibc raises its mmap threshold after every freed large block, so a stream of batch-sized arrays
# ends up on the heap and fragments it: peak RSS then grows with the number of batches (measured:
# +33 % from N to 4N tracks). A fixed threshold keeps batch buffers in mmap and RSS flat (1.00x).
M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES = -3, 128 * 1024


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


class StreamedSplit(_Labels):
    """One split read from its pack on demand: only a batch (or a prediction chunk) in memory."""

    def __init__(self, pack: dict, mean: np.ndarray, std: np.ndarray, device: torch.device):
        self.device = device
        self.array: PackArray = pack["x"]
        with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to fix
            ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        self._labels(pack, mean, std, torch.device("cpu"))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.array.shape)

    def windows(self, track: torch.Tensor, first: torch.Tensor, within: torch.Tensor):
        unique, local = torch.unique(track, sorted=True, return_inverse=True)
        x = self.normalise(self.array.rows(unique.numpy()))
        return x[local[:, None], :, first[:, None] + within].transpose(1, 2)

    def batches(self, batches, within: torch.Tensor) -> Iterator[torch.Tensor]:
        reads = (lambda t=track, f=first: self.windows(t, f, within) for track, first in batches)
        return prefetched(reads)

    def chunks(self, rows: int) -> Iterator[torch.Tensor]:
        starts = range(0, len(self.array), rows)
        reads = (lambda s=start: self.normalise(self.array[s : s + rows]) for start in starts)
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
