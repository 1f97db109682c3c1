"""What a Snakemake HTML report holds: categories, figures, tables and audio files.

The report (Snakemake 9's built-in HTML reporter) is a single page whose entries live in two inline
scripts, ``var categories = {...};`` and ``var results = {...};``; reading them tells a test what a
person opening the page would find, without a browser.
"""

from __future__ import annotations

import json
import os
import re

FIGURE_TYPES = ("image/", "application/pdf")


def _script_json(html: str, script_id: str, variable: str) -> dict:
    match = re.search(
        rf'<script id="{script_id}">\s*var {variable} = (.*?);\s*</script>', html, flags=re.DOTALL
    )
    if match is None:
        raise ValueError(
            f"no '{variable}' in <script id=\"{script_id}\">: not a Snakemake HTML report, "
            "or one from a reporter version this parser does not know"
        )
    return json.loads(match.group(1))


def report_contents(html_path: str | os.PathLike) -> dict:
    """``categories`` ({category: {subcategory: [paths]}}) and the ``figures``, ``audio`` and ``tables``
    in the report, each a sorted list of file paths relative to the workflow's working directory
    (the report's own keys: its display names are bare file names, which repeat across models);
    ``captions`` maps each path to its rendered caption HTML."""
    with open(html_path, encoding="utf-8") as handle:
        html = handle.read()
    categories = _script_json(html, "categories", "categories")
    results = _script_json(html, "results", "results")
    kinds: dict[str, list[str]] = {"figures": [], "audio": [], "tables": []}
    for path, entry in results.items():
        mime = entry.get("mime_type") or ""
        kind = (
            "figures"
            if mime.startswith(FIGURE_TYPES)
            else "audio"
            if mime.startswith("audio/")
            else "tables"
        )
        kinds[kind].append(path)
    return {
        "categories": categories,
        **{kind: sorted(names) for kind, names in kinds.items()},
        "captions": {path: entry.get("caption") or "" for path, entry in results.items()},
    }


def report_entry(html_path: str | os.PathLike, path: str) -> dict:
    """The report's own record of one result (``data_uri``, ``mime_type``, ``caption``...)."""
    with open(html_path, encoding="utf-8") as handle:
        results = _script_json(handle.read(), "results", "results")
    if path not in results:
        raise KeyError(f"{html_path}: no result {path!r}; it has {sorted(results)[:5]}...")
    return results[path]
