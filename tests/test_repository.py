"""Repository rules: docs match code, every package declares what it imports, pins are clean."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from certify_testkit.paths import repo_root

ROOT = repo_root()
PACKAGES = sorted(p.parent for p in [*ROOT.glob("libs/*/pyproject.toml"), *ROOT.glob("services/*/pyproject.toml")])
STDLIB = set(sys.stdlib_module_names)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(package: Path) -> set[str]:
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    return {_normalise(re.split(r"[ <>=!\[;]", dep, maxsplit=1)[0]) for dep in project.get("dependencies", [])}


def _imported_top_levels(package: Path) -> set[str]:
    names: set[str] = set()
    for path in (package / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_readme_configuration_tables_match_the_settings_classes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "config_docs.py")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_readme_shows_the_two_commands_and_every_service() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme
    assert "make test" in readme
    for package in PACKAGES:
        if package.parent.name == "services":
            assert f"services/{package.name}" in readme
            assert f"<!-- config:{package.name} -->" in readme


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_package_declares_the_distributions_it_imports(package: Path) -> None:
    distributions = packages_distributions()
    own = {path.name for path in (package / "src").iterdir() if path.is_dir()}
    missing = []
    for module in sorted(_imported_top_levels(package) - STDLIB - own):
        provided_by = {_normalise(dist) for dist in distributions.get(module, [module])}
        if not provided_by & _declared(package):
            missing.append(f"{module} (from {sorted(provided_by)})")
    assert not missing, f"{package.name} imports undeclared distributions: {missing}"


@pytest.mark.parametrize("package", [p for p in PACKAGES if p.parent.name == "services"], ids=lambda p: p.name)
def test_every_service_has_its_entry_point_and_readme(package: Path) -> None:
    module = f"certify_{package.name}"
    assert (package / "src" / module / "__main__.py").exists()
    assert (package / "src" / module / "settings.py").exists()
    assert (package / "README.md").exists()
    assert not (package / "Dockerfile").exists(), "images come from the one parametrised Dockerfile at the root"


def test_the_one_dockerfile_builds_every_service_multi_stage_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG SERVICE" in dockerfile
    assert "USER 10001" in dockerfile, "containers run as a non-root numeric user"
    assert dockerfile.count("FROM ") >= 2, "multi-stage build"
    assert re.search(r"^FROM python:3\.11\.\d+-slim-bookworm", dockerfile, re.MULTILINE), "pinned base image"


def test_third_party_requirements_are_pinned_with_hashes_and_no_index() -> None:
    constraints = (ROOT / "constraints.txt").read_text()
    assert "--index-url" not in constraints
    assert "--find-links" not in constraints
    assert "://" not in constraints
    pinned = {_normalise(line.split("==")[0]) for line in constraints.splitlines() if "==" in line}
    assert constraints.count("--hash=sha256:") >= len(pinned)
    required = {
        _normalise(re.split(r"[ <>=!\[;]", line, maxsplit=1)[0])
        for line in (ROOT / "requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert required <= pinned
    internal = {_normalise(f"certify-{p.name}") for p in PACKAGES}
    for package in PACKAGES:
        assert _declared(package) - internal <= required, f"{package.name} declares deps missing from requirements.in"


def test_no_lock_file_with_download_urls_is_tracked() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert not [line for line in tracked.splitlines() if line.endswith(("uv.lock", "package-lock.json"))]


def _tracked() -> list[str]:
    return subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()


def test_no_code_test_or_script_reads_the_folder_beside_the_checkout() -> None:
    # Markdown may point readers at the design documents beside the checkout; nothing that runs may.
    beside = "../" + "shared"
    offenders = [
        path
        for path in _tracked()
        if not path.endswith(".md") and (ROOT / path).is_file() and beside in (ROOT / path).read_text(errors="ignore")
    ]
    assert offenders == []


def test_the_stored_vectors_are_what_the_installed_official_libraries_make() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "regenerate_vectors.py")], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stdout


def test_a_copy_of_the_repository_with_nothing_beside_it_collects_every_test(tmp_path: Path) -> None:
    copy = tmp_path / "alone" / "certify"
    for path in _tracked():
        if (ROOT / path).is_file():
            (copy / path).parent.mkdir(parents=True, exist_ok=True)
            (copy / path).write_bytes((ROOT / path).read_bytes())
    # The copy's sources shadow the editable installs of this checkout.
    sources = sorted(str(src) for src in [*copy.glob("libs/*/src"), *copy.glob("services/*/src")])
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    env["PYTHONPATH"] = os.pathsep.join(sources)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "libs", "services", "tests"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    collected = re.search(r"^(\d+) tests? collected", result.stdout, re.MULTILINE)
    assert collected is not None, result.stdout[-3000:]
    assert int(collected.group(1)) > 0


def test_ci_lints_and_tests_and_make_test_gates_coverage() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-2:] == ["make lint", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "coverage run" in recipe
    assert "-m pytest libs services tests" in recipe
    assert "scripts/coverage_gate.py" in recipe
    assert "bandit" in makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
