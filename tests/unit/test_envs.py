"""The cluster job environment pins exactly requirements.txt; dev tools are pinned apart from it."""

import yaml


def _pins(path):
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return sorted(line for line in lines if line and not line.startswith("-r "))


def test_every_env_file_matches_requirements(repo_root):
    pins = _pins(repo_root / "requirements.txt")
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


def test_dev_tools_are_pinned_and_stay_out_of_the_job_environment(repo_root):
    dev = _pins(repo_root / "requirements-dev.txt")
    runtime = {pin.split("==")[0] for pin in _pins(repo_root / "requirements.txt")}
    assert "-r requirements.txt" in (repo_root / "requirements-dev.txt").read_text()
    assert dev and all("==" in pin for pin in dev)
    names = {pin.split("==")[0] for pin in dev}
    assert {"pytest", "ruff", "snakefmt"} <= names
    assert not names & runtime, "a pin is in both requirements files"
