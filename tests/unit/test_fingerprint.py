"""Code fingerprints: computed from imports, and changed exactly where an edited module is reached.

The expected reach of each script comes from the standard library's ``modulefinder`` (bytecode
scanning), an implementation independent of the ``ast`` walk under test.
"""

from __future__ import annotations

import json
import modulefinder
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fmagenre.fingerprint import code_fingerprint, import_closure, script_fingerprint

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "workflow" / "scripts"

# Runs in a copy of workflow/scripts: appends a comment to every package module in turn and prints,
# per module, the scripts whose fingerprint changed.
PROBE = """
import json, sys
from pathlib import Path
from fmagenre.fingerprint import PACKAGE_ROOT, script_fingerprint
scripts = sorted(Path(sys.argv[1]).glob("*.py"))
before = {s.stem: script_fingerprint(s) for s in scripts}
changed = {}
for module in sorted(PACKAGE_ROOT.rglob("*.py")):
    if module.name == "fingerprint.py":
        continue
    original = module.read_text()
    module.write_text(original + "\\n# edited\\n")
    after = {s.stem: script_fingerprint(s) for s in scripts}
    module.write_text(original)
    key = module.relative_to(PACKAGE_ROOT.parent).as_posix()
    changed[key] = sorted(name for name in before if after[name] != before[name])
print(json.dumps(changed))
"""


def reached_modules(script: Path, scripts_dir: Path) -> set[str]:
    finder = modulefinder.ModuleFinder(path=[str(scripts_dir)])
    finder.run_script(str(script))
    files = set()
    for name, module in finder.modules.items():
        if name.startswith("fmagenre") and module.__file__:
            files.add(Path(module.__file__).resolve().relative_to(scripts_dir.resolve()).as_posix())
    return files


def test_editing_a_module_changes_exactly_the_fingerprints_of_scripts_that_reach_it(tmp_path):
    copy = tmp_path / "scripts"
    shutil.copytree(SCRIPTS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(copy)],
        cwd=copy,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
    )
    changed = json.loads(result.stdout)
    scripts = sorted(copy.glob("*.py"))
    reach = {script.stem: reached_modules(script, copy) for script in scripts}
    assert len(changed) > 20  # every package module was edited once
    for module, scripts_changed in changed.items():
        expected = sorted(name for name, modules in reach.items() if module in modules)
        assert scripts_changed == expected, module


def test_hand_lists_that_had_drifted_are_now_covered():
    synth = {p.name for p in import_closure(SCRIPTS / "synthesize.py")}
    assert {"splits.py", "audio.py", "synth.py"} <= synth
    train = {p.relative_to(SCRIPTS).as_posix() for p in import_closure(SCRIPTS / "train_model.py")}
    assert "fmagenre/figures/common.py" in train


def test_excluded_module_does_not_count_but_others_do(tmp_path):
    with_io = code_fingerprint("fmagenre.features.extract")
    without_io = code_fingerprint("fmagenre.features.extract", exclude=("fmagenre.io",))
    assert with_io != without_io


def test_unknown_script_or_module_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no script or package module"):
        script_fingerprint(tmp_path / "missing.py")
    with pytest.raises(FileNotFoundError, match="fmagenre.nothing_here"):
        code_fingerprint("fmagenre.nothing_here")
