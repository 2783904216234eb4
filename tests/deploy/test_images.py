"""Every image installs and starts: the Dockerfile's build stage replayed offline, then its entry point run.

See ``certify_testkit.images`` for how the build is replayed without a Docker engine.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import kmock
import pytest

from certify_testkit.images import (
    IMAGE_VENV,
    BuildContext,
    Replay,
    Stage,
    copy_sources,
    parse_stages,
    replay_build_stage,
)
from certify_testkit.paths import repo_root
from certify_testkit.processes import free_port, log_dir, wait_until

ROOT = repo_root()
DOCKERFILE = ROOT / "Dockerfile"
UV = ROOT / ".venv" / "bin" / "uv"
#: Every workload with a package gets an image (the sandbox too, for in-cluster development).
SERVICES = sorted(path.parent.name for path in ROOT.glob("services/*/pyproject.toml"))


def _stages(service: str, dockerfile: Path = DOCKERFILE) -> list[Stage]:
    return parse_stages(dockerfile, {"SERVICE": service})


@pytest.fixture(scope="module")
def replays(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Replay]:
    """Each service's build stage replayed once, four at a time."""
    # The folders are made here, not in the threads: the first mktemp of a worker creates its base folder, and
    # threads racing to create it fail with FileExistsError.
    folders = {service: tmp_path_factory.mktemp(f"image-{service}") for service in SERVICES}

    def replay(service: str) -> Replay:
        return replay_build_stage(ROOT, _stages(service)[0], folders[service], UV)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(SERVICES, pool.map(replay, SERVICES), strict=True))


def _runtime_env(stage: Stage, replay: Replay, scratch: Path, port: int) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in stage.values("ENV"):
        for pair in shlex.split(value):
            key, _, raw = pair.partition("=")
            env[key] = raw.replace(IMAGE_VENV, str(replay.venv))
    image_path = env.pop("PATH").replace("$PATH", os.environ["PATH"])
    (scratch / "tmp").mkdir()
    return {
        **{key: val for key, val in os.environ.items() if key in {"LANG", "LC_ALL", "HOME"}},
        **env,
        "PATH": image_path,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "TMPDIR": str(scratch / "tmp"),
        "PROMETHEUS_MULTIPROC_DIR": str(scratch / "tmp" / "prometheus"),
        "CERTIFY_ENV": "test",
        "DATABASE_URL": f"sqlite+aiosqlite:///{scratch}/proxy.db",
    }


@contextmanager
def _kubernetes_api(folder: Path, namespace: str) -> Iterator[Path]:
    """An emulated Kubernetes API (kmock) on loopback for the operator, with its resources declared; yields a
    kubeconfig pointing at it. Runs on its own event loop in a thread, stopped on exit."""
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    url: list[str] = []

    async def serve() -> None:
        verbs = {"get", "list", "watch", "create", "update", "patch", "delete"}
        async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
            for path, kind, namespaced in [
                ("ops.certify.dev/v1alpha1/certifywallets", "CertifyWallet", True),
                ("ops.certify.dev/v1alpha1/deadletters", "DeadLetter", True),
                ("kopf.dev/v1/kopfpeerings", "KopfPeering", True),
                ("v1/events", "Event", True),
                ("v1/secrets", "Secret", True),
                ("v1/namespaces", "Namespace", False),
                ("apiextensions.k8s.io/v1/customresourcedefinitions", "CustomResourceDefinition", False),
            ]:
                emulator.resources[path] = kmock.ResourceInfo(kind=kind, namespaced=namespaced, verbs=verbs)
            async with httpx.AsyncClient(base_url=str(server.url)) as http:
                peering = {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "status": {}}
                peering["metadata"] = {"name": "certify-operator", "namespace": namespace}
                created = await http.post(f"/apis/kopf.dev/v1/namespaces/{namespace}/kopfpeerings", json=peering)
                created.raise_for_status()
            stop.append(asyncio.Event())
            url.append(str(server.url).rstrip("/"))
            ready.set()
            await stop[0].wait()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    wait_until(ready.is_set, 30.0, what="the emulated Kubernetes API")
    kubeconfig = folder / "kubeconfig"
    context = {"cluster": "kmock", "user": "kmock", "namespace": namespace}
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kmock", "cluster": {"server": url[0]}}],
                "users": [{"name": "kmock", "user": {}}],
                "contexts": [{"name": "kmock", "context": context}],
                "current-context": "kmock",
            }
        )
    )
    try:
        yield kubeconfig
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(timeout=30)


def _entrypoint(stage: Stage) -> Path:
    for value in stage.values("COPY"):
        words = [word for word in shlex.split(value) if not word.startswith("--")]
        if words[-1] == "/usr/local/bin/certify-entrypoint":
            return ROOT / words[0]
    raise AssertionError("the final stage copies no certify-entrypoint")


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_installs_from_what_its_dockerfile_copies(service: str, replays: dict[str, Replay]) -> None:
    replay = replays[service]
    assert replay.returncode == 0, replay.output
    module = f"certify_{service}"
    imported = subprocess.run(
        [str(replay.venv / "bin" / "python"), "-c", f"import {module}.__main__"], capture_output=True, text=True
    )
    assert imported.returncode == 0, imported.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_the_final_stage_has_no_test_or_dev_packages(service: str, replays: dict[str, Replay]) -> None:
    python = str(replays[service].venv / "bin" / "python")
    for module in ("pytest", "certify_testkit", "mypy", "ruff", "hypothesis"):
        found = subprocess.run([python, "-c", f"import {module}"], capture_output=True)
        assert found.returncode != 0, f"{module} is installed in the {service} image"


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_entry_point_serves_healthz_and_stops_on_sigterm(
    service: str, replays: dict[str, Replay], tmp_path: Path
) -> None:
    final = _stages(service)[-1]
    assert f"--from=build {IMAGE_VENV} {IMAGE_VENV}" in final.values("COPY")
    assert [user.split(":")[0] for user in final.values("USER")] == ["10001"], "non-root numeric user"
    port = free_port()
    env = _runtime_env(final, replays[service], tmp_path, port)
    if service != "operator":
        _run_until_healthy(service, final, env, tmp_path, port)
        return
    # The operator is healthy once kopf runs against an API server: it gets an emulated one.
    with _kubernetes_api(tmp_path, "certify") as kubeconfig:
        env.update({"KUBECONFIG": str(kubeconfig), "WATCH_NAMESPACE": "certify"})
        _run_until_healthy(service, final, env, tmp_path, port)


def _files(folder: Path) -> dict[str, float]:
    return {str(path): path.stat().st_mtime for path in folder.rglob("*")}


def _run_until_healthy(service: str, final: Stage, env: dict[str, str], tmp_path: Path, port: int) -> None:
    # The image's root filesystem is read-only in Kubernetes: running must write nothing into the virtualenv.
    venv = Path(env["PATH"].split(os.pathsep)[0]).parent
    before = _files(venv)
    _run(service, final, env, tmp_path, port)
    assert _files(venv) == before, f"{service} wrote into its read-only virtualenv"


def _run(service: str, final: Stage, env: dict[str, str], tmp_path: Path, port: int) -> None:
    log_path = log_dir() / f"image-{service}-{port}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen([str(_entrypoint(final))], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:

        def healthy() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"{service} exited with {proc.returncode}; see {log_path}")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 60.0, interval_s=0.2, what=f"{service} /healthz")
        probe = subprocess.run([str(_entrypoint(final)), "healthcheck"], env=env, capture_output=True, text=True)
        assert probe.returncode == 0, probe.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            returncode = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert returncode == 0, f"{service} did not stop cleanly on SIGTERM; see {log_path}"


def test_a_dockerfile_that_forgets_a_library_fails_the_install_test(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text(re.sub(r"^COPY libs/client .*$", "", DOCKERFILE.read_text(), flags=re.MULTILINE))
    replay = replay_build_stage(ROOT, _stages("proxy", broken)[0], tmp_path / "replay", UV)
    assert replay.returncode != 0
    assert "libs/client" in replay.output


def test_the_build_context_keeps_tests_caches_and_other_files_out_of_the_images(tmp_path: Path) -> None:
    context = BuildContext(ROOT)
    assert context.excluded("services/proxy/tests/unit/test_job_queue.py")
    assert context.excluded("libs/common/src/certify_common/__pycache__/x.pyc")
    assert context.excluded("libs/testkit/pyproject.toml")
    assert not context.excluded("services/proxy/src/certify_proxy/app.py")
    with pytest.raises(FileNotFoundError, match="not in the build context"):
        copy_sources(context, tmp_path, "README.md ./")
