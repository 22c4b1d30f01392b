"""The install files agree: pyproject.toml, environment.yml and constraints.txt."""
import re
import tomllib

import yaml

from course import ROOT


def _requirement(line):
    """'torch==2.14.1' -> ('torch', '==2.14.1'), names normalised as pip does."""
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)", line)
    name, spec = match.groups()
    return re.sub(r"[-_.]+", "-", name).lower(), spec.replace(" ", "")


def _pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_requirement(line) for line in lines), project["requires-python"]


def _environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    return dict(_requirement(line) for line in pip if not line.startswith("-e")), conda


def test_environment_yml_pins_the_same_packages_as_pyproject():
    pyproject, _ = _pyproject()
    environment, _ = _environment()
    assert environment == pyproject


def test_every_dependency_is_pinned_exactly():
    pyproject, _ = _pyproject()
    loose = {name: spec for name, spec in pyproject.items() if not spec.startswith("==")}
    assert not loose, f"pin these with ==: {loose}"


def test_python_versions_agree():
    _, requires = _pyproject()
    _, conda = _environment()
    assert "python=3.11" in conda
    assert ">=3.11" in requires and "<3.12" in requires


def test_constraints_pin_the_direct_dependencies_at_the_same_versions():
    pyproject, _ = _pyproject()
    constraints = dict(
        _requirement(line)
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    mismatched = {n: (s, constraints.get(n)) for n, s in pyproject.items() if constraints.get(n) != s}
    assert not mismatched, f"constraints.txt disagrees with pyproject.toml: {mismatched}"
