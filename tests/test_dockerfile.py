"""The Dockerfile, read for what it must do, since no container engine runs here: pinned CPU
torch (the versions CI tests), a non-root user with uid 1000 (as Spaces run), the hub cache on a
volume, a health check, a build context without the repository's history, caches or weights;
and the README's docker commands fit it."""

import fnmatch
import re
import shlex

from oracle.paths import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()
INSTRUCTIONS = [line for line in re.sub(r"\\\n\s*", " ", DOCKERFILE).splitlines()
                if line.strip() and not line.lstrip().startswith("#")]


def instructions(keyword: str) -> list:
    return [line.split(None, 1)[1] for line in INSTRUCTIONS if line.split(None, 1)[0] == keyword]


def env() -> dict:
    values = {}
    for line in instructions("ENV"):
        values.update(part.split("=", 1) for part in shlex.split(line))
    return values


def ignored(path: str, patterns: list) -> bool:
    """Whether Docker leaves ``path`` out of the build context (last matching pattern wins)."""
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        bare = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, bare) or fnmatch.fnmatch(path, bare + "/*") or fnmatch.fnmatch(path, "*/" + bare):
            excluded = not negated
    return excluded


def test_torch_is_the_tested_cpu_build():
    tested = re.search(r"pip install (torch==\S+ torchvision==\S+)", (REPO / ".ci" / "run").read_text()).group(1)
    [torch_install] = [line for line in instructions("RUN") if "torch==" in line]
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch_install
    assert " ".join(tested.split()) in " ".join(torch_install.split())
    assert "--extra-index-url" not in DOCKERFILE


def test_it_runs_as_uid_1000_with_the_hub_cache_on_a_volume_and_a_health_check():
    assert any("--uid 1000" in line and "useradd" in line for line in instructions("RUN"))
    users = [i for i, line in enumerate(INSTRUCTIONS) if line.startswith("USER ")]
    assert users and INSTRUCTIONS[users[-1]] == "USER user"
    assert users[-1] < min(i for i, line in enumerate(INSTRUCTIONS) if line.startswith(("COPY ", "CMD ")))
    hub = env()["HF_HOME"]
    assert any(hub in line for line in instructions("VOLUME"))
    [health] = instructions("HEALTHCHECK")
    assert "7860" in health and env()["SAM2_PORT"] == "7860"


def test_the_build_context_leaves_out_history_caches_and_weights_but_not_what_is_copied():
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for path in (".git", ".cache/reference/pkg", "checkpoints/sam2.1_hiera_tiny.pt", "tests/conftest.py"):
        assert ignored(path, patterns), path
    sources = [shlex.split(line)[-2] for line in instructions("COPY")]
    for source in sources:
        assert (REPO / source).exists() and not ignored(source, patterns), source
    assert not ignored("assets/balls.mp4", patterns)


def test_the_readme_docker_commands_fit_the_image():
    readme = (REPO / "README.md").read_text()
    assert "docker build -t sam2-tracker ." in readme
    [run] = re.findall(r"docker run [^\n`]+", readme)
    assert "-p 7860:7860" in run and f":{env()['HF_HOME']}" in run
    workdir = instructions("WORKDIR")[-1]
    assert f"-v $PWD/checkpoints:{workdir}/checkpoints" in readme
