"""The one atomic writer (`nstcli.engine.atomic.atomic_write`) every file writer uses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nstcli.engine.atomic import atomic_write


class Boom(Exception):
    pass


def test_success_writes_whole_file_with_umask_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    old = os.umask(0o027)
    try:
        with atomic_write(target) as stream:
            stream.write(b"hello")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"hello"
    assert target.stat().st_mode & 0o777 == 0o640  # 0o666 less the umask, not mkstemp's 0600
    assert os.listdir(tmp_path) == ["out.bin"]


def test_explicit_mode(tmp_path: Path) -> None:
    target = tmp_path / "private"
    with atomic_write(target, mode=0o600) as stream:
        stream.write(b"x")
    assert target.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("existing", [None, b"old contents"])
def test_failed_write_leaves_no_temp_and_no_partial_target(
    tmp_path: Path, existing: bytes | None
) -> None:
    target = tmp_path / "out.bin"
    if existing is not None:
        target.write_bytes(existing)
    with pytest.raises(Boom), atomic_write(target) as stream:
        stream.write(b"partial")
        raise Boom
    assert os.listdir(tmp_path) == ([] if existing is None else ["out.bin"])
    if existing is not None:
        assert target.read_bytes() == existing  # untouched


def test_errors_pass_through_unchanged(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_write(tmp_path / "missing" / "x") as stream:
        stream.write(b"x")


def test_is_the_only_rename_in_the_package() -> None:
    package = Path(__file__).resolve().parents[1] / "nstcli"
    users = [
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if "os.replace(" in path.read_text(encoding="utf-8")
    ]
    assert users == ["engine/atomic.py"]


def test_imports_neither_torch_nor_pillow() -> None:
    code = (
        "import sys, nstcli.engine.atomic;"
        "print(sorted({'torch', 'PIL', 'numpy'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
