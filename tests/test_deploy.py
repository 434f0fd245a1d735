"""compose.yaml, the systemd units and the Dockerfile: every `nst` command line in them
parses with the real Typer app (parsed, never run), and the parts the issue asks for are
there: Redis with persistence, the bot without in-process workers, scalable workers, a
one-box profile without Redis, the token only from the environment; the sandbox-only
torchvision patch is off by default and guards exactly what it should."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer.main
import yaml

from nstcli.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


def parse_nst(args: list[str]) -> dict:
    """The options `nst <args>` would run with; a usage error raises (exit 2 for a user)."""
    group = typer.main.get_command(app)
    name, *rest = args
    assert name in group.commands, f"nst has no command {name!r}"  # type: ignore[attr-defined]
    return group.commands[name].make_context(name, rest).params  # type: ignore[attr-defined]


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def nst_services() -> dict[str, dict]:
    return {name: s for name, s in compose()["services"].items() if name != "redis"}


def test_the_parser_refuses_what_nst_would_refuse():
    assert parse_nst(["worker", "--broker", "redis://r:6379/0"])["broker"] == "redis://r:6379/0"
    for wrong in (["serve-bot", "--wrokers", "0"], ["worker", "--workers", "x"], ["serve"]):
        with pytest.raises(Exception):  # noqa: B017 - a usage error or "no such command"
            parse_nst(wrong)


@pytest.mark.parametrize("service", ["bot", "worker", "onebox"])
def test_every_compose_command_and_health_check_is_a_valid_nst_command_line(service):
    spec = nst_services()[service]
    assert parse_nst(spec["command"]) is not None
    test = spec["healthcheck"]["test"]
    assert test[:2] == ["CMD", "nst"]
    assert set(parse_nst(test[2:])) == {"heartbeat_file"}


def test_compose_has_the_queue_the_bot_and_scalable_workers():
    services = compose()["services"]
    assert set(services) == {"redis", "bot", "worker", "onebox"}
    assert "--appendonly" in services["redis"]["command"]
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])
    bot = parse_nst(services["bot"]["command"])
    assert (bot["broker"], bot["workers"]) == ("redis://redis:6379/0", 0)
    assert parse_nst(services["worker"]["command"])["broker"] == "redis://redis:6379/0"
    # `--scale worker=N` needs a worker without a fixed name or host port
    assert not {"container_name", "ports"} & set(services["worker"])
    onebox = parse_nst(services["onebox"]["command"])
    assert onebox["broker"] is None and onebox["workers"] >= 1
    assert services["onebox"]["profiles"] == ["onebox"] and "depends_on" not in services["onebox"]
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert "healthcheck" in service, name
    for name in ("bot", "onebox"):
        assert "data:/data" in services[name]["volumes"]


def test_the_token_comes_only_from_the_environment():
    text = (ROOT / "compose.yaml").read_text()
    assert not re.search(r"\d{6,}:[A-Za-z0-9_-]{20,}", text)
    for name, service in nst_services().items():
        token = service["environment"]["TELEGRAM_BOT_TOKEN"]
        assert token.startswith("${TELEGRAM_BOT_TOKEN:?"), name
    assert "TELEGRAM_BOT_TOKEN=" in (ROOT / ".env.example").read_text()
    assert "/.env" in (ROOT / ".gitignore").read_text().splitlines()


def unit(name: str) -> dict[str, list[str]]:
    """A systemd unit's settings, each key with its values in order (comments dropped)."""
    settings: dict[str, list[str]] = {}
    for line in (ROOT / "deploy" / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


@pytest.mark.parametrize("name", ["nst-bot.service", "nst-worker@.service"])
def test_systemd_units_run_valid_nst_command_lines_hardened(name):
    settings = unit(name)
    environment = dict(
        pair.split("=", 1) for line in settings["Environment"] for pair in shlex.split(line)
    )
    (exec_start,) = settings["ExecStart"]
    command = _VARIABLE.sub(lambda m: environment[m.group(1)], exec_start.replace("%i", "1"))
    executable, *args = shlex.split(command)
    assert executable == "/opt/nst/bin/nst"
    options = parse_nst(args)
    assert options["broker"] == "redis://127.0.0.1:6379/0"
    for key, value in {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "Restart": "on-failure",
        "RestartPreventExitStatus": "2",
    }.items():
        assert settings[key] == [value], key
    assert "NST_DATA_DIR" in environment and settings["StateDirectory"]
    assert settings["EnvironmentFile"] == ["/etc/nst/nst.env"]


def test_dockerfile_runs_nst_and_checks_its_health():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    (entry,) = [line for line in lines if line.startswith("ENTRYPOINT ")]
    assert json.loads(entry.split(" ", 1)[1]) == ["nst"]
    (health,) = [line for line in lines if line.startswith("HEALTHCHECK ")]
    command = json.loads(health.split(" CMD ", 1)[1])
    assert command[0] == "nst" and set(parse_nst(command[1:])) == {"heartbeat_file"}
    assert any(line.startswith("USER nst") for line in lines)
    assert 'VOLUME ["/data", "/cache"]' in lines
    assert "NST_HEARTBEAT_FILE=/tmp/nst-heartbeat.json" in "\n".join(lines)


def test_dockerignore_keeps_the_venv_and_results_out_of_the_build_context():
    patterns = (ROOT / ".dockerignore").read_text().splitlines()
    assert patterns[: patterns.index("*")] == [p for p in patterns if p.startswith("#")]
    allowed = {p[1:] for p in patterns if p.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "LICENSE", "nstcli"}


def dockerfile_text() -> str:
    return (ROOT / "Dockerfile").read_text()


def dockerfile_run(starting: str) -> str:
    """The shell command of the Dockerfile's RUN that starts with `starting`, lines joined."""
    lines = iter(dockerfile_text().splitlines())
    for line in lines:
        if line.startswith(f"RUN {starting}"):
            command = line.removeprefix("RUN ")
            while command.endswith("\\"):
                command = command[:-1] + next(lines)
            return command
    raise AssertionError(f"no RUN {starting} in the Dockerfile")


def test_the_sandbox_build_makes_torchvision_ops_optional_and_the_default_does_not():
    dockerfile = dockerfile_text()
    assert "\nARG TORCHVISION_OPS_OPTIONAL=0\n" in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    assert "\nTORCHVISION_OPS_OPTIONAL ?= 1\n" in makefile
    assert "--build-arg TORCHVISION_OPS_OPTIONAL=$(TORCHVISION_OPS_OPTIONAL)" in makefile
    assert "TORCHVISION_OPS_OPTIONAL=0" in makefile  # how to turn it off elsewhere


_TORCHVISION_FAKES = """\
@torch.library.register_fake("torchvision::nms")
def meta_nms(dets, scores, iou_threshold):
    return dets


@torch.library.register_fake("torchvision::qnms")
def meta_qnms(dets, scores, iou_threshold, scale, zero_point):
    return dets
"""


def run_torchvision_patch(tmp_path: Path, enabled: str, meta_text: str):  # type: ignore[no-untyped-def]
    """The Dockerfile's torchvision step in a shell, on `meta_text` as torchvision's
    _meta_registrations.py, with a stand-in for the image's Python."""
    package = tmp_path / "torchvision"
    package.mkdir(parents=True)
    (package / "_meta_registrations.py").write_text(meta_text)
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\ncase "$2" in *find_spec*) echo "{package}";; esac\n')
    python.chmod(0o755)
    command = dockerfile_run('if [ "$TORCHVISION_OPS_OPTIONAL"')
    command = command.replace("/opt/nst/bin/python", str(python))
    environment = {"PATH": os.environ["PATH"], "TORCHVISION_OPS_OPTIONAL": enabled}
    result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=environment)
    return result, (package / "_meta_registrations.py").read_text()


def registered_fakes(code: str, has_ops: bool) -> list[str]:
    """The ops whose fake kernel `code` registers, with torchvision's ops there or not."""
    registered: list[str] = []

    def register_fake(name: str):  # type: ignore[no-untyped-def]
        registered.append(name)
        return lambda fn: fn

    torch = SimpleNamespace(library=SimpleNamespace(register_fake=register_fake))
    extension = SimpleNamespace(_has_ops=lambda: has_ops)
    exec(code, {"torch": torch, "torchvision": SimpleNamespace(extension=extension)})
    return registered


def test_the_torchvision_patch_skips_only_the_fake_kernels_of_missing_ops(tmp_path):
    result, patched = run_torchvision_patch(tmp_path, "1", _TORCHVISION_FAKES)
    assert result.returncode == 0, result.stderr
    assert "2 fake-kernel registrations made optional" in result.stdout
    assert registered_fakes(patched, has_ops=False) == []
    assert registered_fakes(patched, has_ops=True) == ["torchvision::nms", "torchvision::qnms"]


def test_the_torchvision_patch_fails_the_build_when_it_finds_nothing_to_patch(tmp_path):
    unpatched, patched = run_torchvision_patch(tmp_path / "a", "1", _TORCHVISION_FAKES)
    again, _ = run_torchvision_patch(tmp_path / "b", "1", patched)
    assert unpatched.returncode == 0 and again.returncode != 0


def test_by_default_the_dockerfile_leaves_torchvision_as_pip_installed_it(tmp_path):
    (default,) = re.findall(r"^ARG TORCHVISION_OPS_OPTIONAL=(.*)$", dockerfile_text(), re.M)
    result, text = run_torchvision_patch(tmp_path, default, _TORCHVISION_FAKES)
    assert result.returncode == 0, result.stderr
    assert text == _TORCHVISION_FAKES
