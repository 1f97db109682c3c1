"""Clip validation (status + human-readable reason) and the merged validation report.

A clip is judged from what the shared decoder (:mod:`fmagenre.data.audio`) finds: ``missing`` (not
on disk), ``undecodable`` (a directory, unreadable, empty, corrupt, no audio frames), ``short``
(decoded duration below ``validation.min_seconds``; FMA's metadata durations are wrong for some
clips, so only the decoded length counts), ``silent`` (RMS level below ``validation.silence_dbfs``)
or ``ok``. Odd but usable files (WAV/OGG/FLAC content named .mp3, mono, unusual rates, long files)
are ``ok`` with the oddity spelt out in the reason. :func:`judge` works from the decoded facts
alone, so the feature cache can re-judge a track under new thresholds without decoding it again.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fmagenre.data.audio import AudioDecodeError, AudioInfo, decode
from fmagenre.io import read_tsv, write_tsv

log = logging.getLogger(__name__)

STATUSES = ("ok", "short", "silent", "undecodable", "missing")
COLUMNS = ["track_id", "status", "reason", "duration_s", "sample_rate", "channels"]
FMA_CLIP_SECONDS = 30.0
FMA_SAMPLE_RATE = 44100


@dataclass(frozen=True)
class ValidationParams:
    min_seconds: float = 20.0
    silence_dbfs: float = -60.0

    @classmethod
    def from_config(cls, section: dict) -> ValidationParams:
        """From the ``validation`` config section (schema defaults already filled in)."""
        return cls(float(section["min_seconds"]), float(section["silence_dbfs"]))


@dataclass(frozen=True)
class ClipValidation:
    status: str
    reason: str
    duration_s: float = float("nan")
    sample_rate: int | None = None
    channels: int | None = None

    def row(self, track_id: int) -> dict:
        return {"track_id": int(track_id), **asdict(self)}


def level_dbfs(signal: np.ndarray) -> float:
    """RMS level of the decoded signal in dB re full scale (-inf for digital silence)."""
    rms = float(np.sqrt(np.mean(np.square(signal, dtype=np.float64))))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


def judge(info: AudioInfo, level: float, params: ValidationParams) -> ClipValidation:
    """Status and reason of a clip that decoded, from its native facts and RMS level."""
    facts = dict(duration_s=info.duration_s, sample_rate=info.sample_rate, channels=info.channels)
    if info.duration_s < params.min_seconds:
        return ClipValidation(
            "short",
            f"only {info.duration_s:.2f} s of audio decoded, below validation.min_seconds = "
            f"{params.min_seconds:g} s (cut short; excluded)",
            **facts,
        )
    if level < params.silence_dbfs:
        what = "digital silence" if level == float("-inf") else f"RMS level {level:.1f} dBFS"
        return ClipValidation(
            "silent",
            f"{what}, below validation.silence_dbfs = {params.silence_dbfs:g} dBFS (excluded)",
            **facts,
        )
    layout = {1: "mono", 2: "stereo"}.get(info.channels, f"{info.channels} channels")
    notes = [f"{info.duration_s:.2f} s, {info.sample_rate} Hz {layout} {info.container}"]
    if info.container != "MP3":
        notes.append(f"{info.container} content in a file named .mp3 (decodable, used as is)")
    if info.sample_rate != FMA_SAMPLE_RATE:
        notes.append(
            f"native rate {info.sample_rate} Hz, not FMA's {FMA_SAMPLE_RATE} Hz (resampled)"
        )
    if info.duration_s > 2 * FMA_CLIP_SECONDS:
        notes.append(f"much longer than a {FMA_CLIP_SECONDS:g} s clip (packs crop it)")
    return ClipValidation("ok", "; ".join(notes), **facts)


@dataclass(frozen=True)
class Decoded:
    """A clip that decoded: the signal at the feature rate, its native facts and RMS level."""

    signal: np.ndarray
    info: AudioInfo
    level_dbfs: float


def validate_clip(
    path: str | os.PathLike, sr: int, mono: bool, params: ValidationParams
) -> tuple[ClipValidation, Decoded | None]:
    """Decode and judge one clip; the decoded clip comes back for feature extraction (one decode).

    Never raises for a bad file: every failure becomes a status with a reason.
    """
    path = Path(path)
    if not path.exists():
        reason = f"{path} not found (listed in the metadata); restore it from the archive"
        return ClipValidation("missing", reason), None
    try:
        signal, info = decode(path, sr, mono)
    except AudioDecodeError as error:
        return ClipValidation("undecodable", str(error)), None
    level = level_dbfs(signal)
    return judge(info, level, params), Decoded(signal, info, level)


def validation_report(
    table_tsv: str | os.PathLike,
    folder_tsvs: list[str | os.PathLike],
    out_tsv: str | os.PathLike,
    audio_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Merge the per-folder tables into one row per track of the track table, sorted by track_id.

    Logs a count per status and, when ``audio_dir`` is given, the MP3s on disk that the metadata
    does not list (counted and ignored).
    """
    table = read_tsv(table_tsv, usecols=["track_id"])
    parts = [read_tsv(path) for path in folder_tsvs]
    merged = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    duplicated = merged["track_id"][merged["track_id"].duplicated()]
    if len(duplicated):
        raise ValueError(
            f"track {int(duplicated.iloc[0])} appears in more than one folder table "
            f"({len(duplicated)} duplicates); delete results/validation/folders and rerun"
        )
    absent = sorted(set(table["track_id"]) - set(merged["track_id"]))
    if absent:
        raise ValueError(
            f"{len(absent)} tracks of {table_tsv} have no validation row (first: {absent[0]}); "
            "the folder tables are stale: delete results/validation/folders and rerun"
        )
    report = table.merge(merged[COLUMNS], on="track_id", how="left").sort_values("track_id")
    counts = report["status"].value_counts()
    log.info(
        "validation of %d tracks: %s",
        len(report),
        ", ".join(f"{status} {int(counts.get(status, 0))}" for status in STATUSES),
    )
    for status in STATUSES[1:]:
        bad = report.loc[report["status"] == status, "track_id"]
        if len(bad):
            log.info("%s: %s", status, " ".join(f"{int(t):06d}" for t in bad))
    if audio_dir is not None:
        _log_unlisted(Path(audio_dir), set(int(t) for t in table["track_id"]))
    write_tsv(out_tsv, report)
    return report


def _log_unlisted(audio_dir: Path, listed: set[int]) -> None:
    """Log the NNN/NNNNNN.mp3 files on disk that are not in the metadata (they are ignored)."""
    unlisted = sorted(
        path.relative_to(audio_dir).as_posix()
        for path in audio_dir.glob("[0-9][0-9][0-9]/*.mp3")
        if not (path.stem.isdigit() and int(path.stem) in listed)
    )
    if unlisted:
        log.info(
            "%d audio files in %s are not in the metadata and were ignored: %s",
            len(unlisted),
            audio_dir,
            " ".join(unlisted[:20]) + (" ..." if len(unlisted) > 20 else ""),
        )
