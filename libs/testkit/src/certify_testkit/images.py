"""Replay a Dockerfile's build outside Docker, to prove offline that an image installs and starts.

No Docker engine runs here, so the build stage is replayed the way the engine would run it: its
``COPY`` instructions copy exactly their sources (minus ``.dockerignore``'s ``**/name`` exclusions) into a
folder standing for the stage's ``WORKDIR``, and its ``RUN`` instructions run there with the same commands,
the image's virtualenv path pointing into that folder. A package the Dockerfile forgets to copy (or that
``.dockerignore`` keeps out of the context) is missing from the folder, so the install step fails as it
would in ``docker build``.

Deliberate differences, for speed only: the pinned ``pip install uv==X`` step is checked against the uv of
this checkout and not re-run, ``--no-cache`` is dropped so the shared uv cache serves the wheels, and
``--compile-bytecode`` is dropped (compiling changes no installed file's presence, only adds caches).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess  # nosec B404  # replays the Dockerfile's own install steps in a scratch folder
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

#: Where the images keep their virtualenv (replaced by a folder of the replay).
IMAGE_VENV = "/opt/venv"


@dataclass
class Stage:
    """One ``FROM`` section: its instructions with build arguments substituted."""

    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        """Values of every instruction of that kind, in order."""
        return [value for kind, value in self.instructions if kind == instruction]


def parse_stages(dockerfile: Path, build_args: dict[str, str]) -> list[Stage]:
    """Split a Dockerfile into stages, substituting ``ARG`` values (global defaults, stage defaults, build args)."""
    parser = DockerfileParser(str(dockerfile), build_args=build_args, env_replace=False)
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    args: dict[str, str] = {}
    for item in parser.structure:
        kind, value = item["instruction"], item["value"]
        if kind == "COMMENT":
            continue
        if kind == "FROM":
            words = value.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(name))
            args = {}
            continue
        if kind == "ARG":
            key, _, default = value.partition("=")
            resolved = build_args.get(key, default or global_args.get(key, ""))
            (args if stages else global_args)[key] = resolved
            continue
        if stages:
            substituted = _substitute(value, args)
            stages[-1].instructions.append((kind, substituted))
    return stages


def _substitute(value: str, args: dict[str, str]) -> str:
    # Build args expand in instructions and, as variables, in RUN shell lines; other variables stay as written.
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)), value)


class BuildContext:
    """The files ``docker build`` sends: the context folder less what ``.dockerignore`` excludes.

    ``.dockerignore`` is read as Docker reads it: patterns in order, the last one matching a path (or one of
    its parent folders) decides, ``!`` re-includes.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        path = root / ".dockerignore"
        lines = path.read_text().splitlines() if path.exists() else []
        self.patterns = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]

    def excluded(self, relative: str) -> bool:
        """Whether ``relative`` (a path inside the context, with ``/``) stays out of the build."""
        parts = relative.split("/")
        candidates = ["/".join(parts[: index + 1]) for index in range(len(parts))]
        result = False
        for pattern in self.patterns:
            negated = pattern.startswith("!")
            glob = pattern[1:] if negated else pattern
            if any(fnmatch.fnmatchcase(candidate, glob) for candidate in candidates):
                result = not negated
        return result


def copy_sources(context: BuildContext, workdir: Path, copy_value: str) -> None:
    """Run one ``COPY src... dest`` (no ``--from``) from the build context into the replay folder."""
    words = [word for word in shlex.split(copy_value) if not word.startswith("--")]
    *sources, dest = words
    if dest.startswith("/"):
        raise ValueError(f"COPY to an absolute path ({dest}) is outside the replayed WORKDIR")
    target_dir = workdir / dest

    def ignore(folder: str, names: list[str]) -> set[str]:
        base = Path(folder).relative_to(context.root).as_posix()
        return {name for name in names if context.excluded(f"{base}/{name}")}

    for source in sources:
        origin = context.root / source
        if not origin.exists() or context.excluded(source.rstrip("/")):
            raise FileNotFoundError(f"COPY source {source} is not in the build context")
        if origin.is_dir():
            # Docker copies a folder's contents into the destination.
            shutil.copytree(origin, target_dir, ignore=ignore, dirs_exist_ok=True)
        else:
            destination = target_dir / origin.name if dest.endswith("/") or len(sources) > 1 else target_dir
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, destination)


@dataclass
class Replay:
    """The outcome of replaying a build stage: its folder, the virtualenv, and the install output."""

    workdir: Path
    venv: Path
    returncode: int
    output: str


def replay_build_stage(context: Path, stage: Stage, root: Path, uv: Path) -> Replay:
    """Copy what the stage copies into ``root/src`` and run its ``RUN`` steps there (see the module doc)."""
    uv = uv.resolve()
    workdir = root / "src"
    venv = root / "venv"
    workdir.mkdir(parents=True)
    build_context = BuildContext(context)
    version = subprocess.run([str(uv), "--version"], capture_output=True, text=True, check=True)  # noqa: S603  # nosec B603
    uv_version = version.stdout.split()[1]
    env = {
        **os.environ,
        "PATH": f"{uv.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "UV_PYTHON": getattr(sys, "_base_executable", sys.executable),
        "VIRTUAL_ENV": "",
    }
    outputs: list[str] = []
    for kind, value in stage.instructions:
        if kind == "COPY":
            if "--from=" in value:
                raise ValueError("a build stage that copies from another stage is not replayable here")
            copy_sources(build_context, workdir, value)
        elif kind == "RUN":
            pinned = re.fullmatch(r"pip install --no-cache-dir uv==(\S+)", value.strip())
            if pinned:
                if pinned.group(1) != uv_version:
                    return Replay(workdir, venv, 1, f"image pins uv {pinned.group(1)}, this checkout has {uv_version}")
                continue
            command = value.replace(IMAGE_VENV, str(venv)).replace("--no-cache ", "").replace("--compile-bytecode ", "")
            result = subprocess.run(  # noqa: S603  # nosec B603  # the Dockerfile's own command, in a scratch folder
                ["/bin/sh", "-c", command], cwd=workdir, env=env, capture_output=True, text=True, check=False
            )
            outputs.append(result.stdout + result.stderr)
            if result.returncode != 0:
                return Replay(workdir, venv, result.returncode, "\n".join(outputs))
    return Replay(workdir, venv, 0, "\n".join(outputs))
