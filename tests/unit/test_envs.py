"""The conda environment for cluster users pins exactly what requirements.txt pins."""

import yaml


def _requirements(path):
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return sorted(line for line in lines if line)


def test_every_env_file_matches_requirements(repo_root):
    pins = _requirements(repo_root / "requirements.txt")
    assert pins, "requirements.txt pins nothing"
    assert all("==" in pin for pin in pins), "every direct dependency must be pinned with =="
    env_files = sorted((repo_root / "envs").glob("*.yaml"))
    assert env_files
    for env_file in env_files:
        env = yaml.safe_load(env_file.read_text())
        pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
        assert pip_sections, f"{env_file.name} has no pip section"
        assert sorted(pip_sections[0]) == pins, f"{env_file.name} differs from requirements.txt"
        assert "python=3.11" in env["dependencies"]
