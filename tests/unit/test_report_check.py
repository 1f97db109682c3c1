"""report_contents on a real report made by Snakemake from a tiny workflow with report() outputs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fmagenre.figures.report_check import report_contents

SNAKEMAKE = Path(sys.executable).with_name("snakemake")
SNAKEFILE = textwrap.dedent("""
    report: "front.rst"

    rule all:
        input:
            "out/figures/curve.png",
            "out/figures/shape.svg",
            "out/audio/Rock.wav",
            "out/audio/Pop.wav",
            "out/table.tsv",

    rule figure:
        output:
            report("out/figures/{name}.{ext}", caption="caption.rst", category="Exploration",
                   subcategory="{name}"),
        run:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            plt.plot([0, 1])
            plt.savefig(output[0])

    rule audio:
        output:
            report("out/audio/{genre}.wav", caption="caption.rst", category="Audio",
                   labels={"genre": "{genre}"}),
        run:
            import wave
            with wave.open(output[0], "wb") as handle:
                handle.setnchannels(1)
                handle.setsampwidth(2)
                handle.setframerate(8000)
                handle.writeframes(bytes(1600))

    rule table:
        output:
            report("out/table.tsv", caption="caption.rst", category="Data"),
        shell:
            "printf 'a\\\\tb\\\\n1\\\\t2\\\\n' > {output}"

    rule not_in_report:
        output:
            "out/other.txt",
        shell:
            "echo x > {output}"
""")


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny_report")
    (root / "Snakefile").write_text(SNAKEFILE)
    (root / "front.rst").write_text("A tiny workflow.\n")
    (root / "caption.rst").write_text("What **this** shows.\n")
    for args in (["--cores", "1"], ["--report", "report.html"]):
        result = subprocess.run(
            [str(SNAKEMAKE), *args], cwd=root, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr[-4000:]
    return root / "report.html"


def test_report_contents_lists_categories_figures_audio_and_tables(tiny_report):
    contents = report_contents(tiny_report)
    assert set(contents["categories"]) == {"Exploration", "Audio", "Data"}
    assert set(contents["categories"]["Exploration"]) == {"curve", "shape"}
    assert contents["figures"] == ["out/figures/curve.png", "out/figures/shape.svg"]
    assert contents["audio"] == ["out/audio/Pop.wav", "out/audio/Rock.wav"]
    assert contents["tables"] == ["out/table.tsv"]
    assert "<strong>this</strong>" in contents["captions"]["out/table.tsv"]


def test_report_contents_refuses_other_html(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><body>not a report</body></html>")
    with pytest.raises(ValueError, match="not a Snakemake HTML report"):
        report_contents(page)
