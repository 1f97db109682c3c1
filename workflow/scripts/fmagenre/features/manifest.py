"""Folder manifests ``results/features/{folder}/manifest.tsv``: which tracks have features, where.

Kept free of the signal-processing imports: the packs and the EDA figures read manifests, and the
workflow imports the pack module when it parses.
"""

from __future__ import annotations

import pandas as pd

from fmagenre.io import read_tsv

# `content` identifies what a track's HDF5 holds (source checksum + parameters + extractor code): a
# re-extraction with new parameters or from a changed MP3 changes the manifest, so Snakemake reruns
# the packs even though the HDF5 files themselves are not declared outputs.
MANIFEST_COLUMNS = ["track_id", "h5", "frames", "content"]


def read_manifests(manifest_tsvs: list) -> pd.DataFrame:
    """The folder manifests as one table."""
    return pd.concat([read_tsv(path) for path in manifest_tsvs], ignore_index=True)


def with_features(tracks: pd.DataFrame, manifest: pd.DataFrame, what: str) -> pd.DataFrame:
    """``tracks`` with each track's ``h5`` and ``frames`` from ``manifest``; all must have some.

    ``what`` names the caller's track list in the error.
    """
    rows = tracks.merge(manifest[["track_id", "h5", "frames"]], on="track_id", how="left")
    missing = rows.loc[rows["h5"].isna(), "track_id"].astype(int).tolist()
    if missing:
        raise ValueError(
            f"{len(missing)} tracks of {what} have no features in the manifests (first: "
            f"{missing[:5]}); the splits are stale or a folder is not extracted: rerun the splits "
            "rule (and extract_folder for those folders)"
        )
    return rows
