"""A listening page per model: every genre's headline optimum and best real track as in-page players.

Snakemake's report offers audio files only as downloads; an HTML entry is shown in the page, so the
players live in one small HTML file with the MP3s inline (data URIs), each genre's verdict beside them.
"""

from __future__ import annotations

import base64
import html

from fmagenre.io import read_tsv, write_text


def _player(path: str) -> str:
    with open(path, "rb") as handle:
        data = base64.b64encode(handle.read()).decode("ascii")
    return f'<audio controls preload="metadata" src="data:audio/mpeg;base64,{data}"></audio>'


def listen_page(gap_tsv: str, mp3s: list[tuple[str, str]], output: str, model: str) -> None:
    """``mp3s``: (optimum, best track) per genre, in the order of ``gap.tsv``'s rows."""
    gap = read_tsv(gap_tsv)
    if len(gap) != len(mp3s):
        raise ValueError(
            f"{gap_tsv}: {len(gap)} genres but {len(mp3s)} MP3 pairs; fix: rerun rule listen_page"
        )
    rows = []
    for row, (optimum, best) in zip(gap.itertuples(), mp3s):
        rows.append(
            f"<tr><td>{html.escape(row.genre)}</td><td class='verdict'>{row.verdict}</td>"
            f"<td>{html.escape(row.headline_start)} (margin {row.optimum_margin:.2f})<br>{_player(optimum)}</td>"
            f"<td>track {row.best_track_id} (margin {row.best_track_margin:.2f})<br>{_player(best)}</td></tr>"
        )
    write_text(
        output,
        f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Listen: model {html.escape(model)}</title>
<style>body{{font-family:sans-serif}} td{{padding:4px 12px;vertical-align:top}}</style></head>
<body><h2>Headline optimum and best real track per genre, model {html.escape(model)}</h2>
<p>The optimum is the input this model scores highest under the optimisation's constraints; only a
<b>representative</b> verdict offers it as the genre's music (see quality.tsv). MP3 copies (the WAVs are in
results/audio/).</p>
<table><tr><th>genre</th><th>verdict</th><th>headline optimum</th><th>best real track</th></tr>
{"".join(rows)}
</table></body></html>
""",
    )
