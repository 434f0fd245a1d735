"""Weight resolution: one resolver for every model, many small specs.

Lookup order (first hit wins):

1. an explicit file (`--weights FILE`): the user's own, checked only against the architecture;
2. `$NST_WEIGHTS_DIR`;
3. the project's `weights/` folder;
4. a file shipped inside a Python package (the offline `lite` backbone);
5. the torch hub cache (`torch.hub.get_dir()/checkpoints`, where torchvision itself caches);
6. a download from the upstream URL with torchvision's own downloader and progress bar,
   unless offline.

Files found by name keep upstream names (`vgg19-dcbb9e9d.pth`), whose hex part is a prefix of
the file's sha256; it is verified so a truncated or corrupt download is caught before use.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import re
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from nstcli.engine.errors import WeightsError

#: The repository's `weights/` folder (exists in a checkout / editable install).
PROJECT_WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"

_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,64})\.[a-z]+$")


def offline_from_env() -> bool:
    """`NST_OFFLINE=1` makes every command behave as if `--offline` were given."""
    return os.environ.get("NST_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class WeightSpec:
    """Where a model's weights come from and how to recognise them."""

    model: str
    filename: str
    url: str | None = None
    #: Returns the path of a copy shipped inside an installed package, or None.
    packaged: Callable[[], Path | None] | None = field(default=None, compare=False)
    description: str = ""
    #: Licence of the weights (and of the package that ships them), for `nst weights`.
    licence: str = ""

    @property
    def hash_prefix(self) -> str | None:
        match = _HASH_IN_NAME.search(self.filename)
        return match.group(1) if match else None


@dataclass(frozen=True)
class ResolvedWeights:
    """A weights file that was found (and verified when found by name)."""

    path: Path
    source: str
    verified: bool


def hub_checkpoint_dir() -> Path:
    """The torch hub cache folder torchvision downloads into (honours `$TORCH_HOME`)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def search_locations(spec: WeightSpec) -> list[tuple[str, Path]]:
    """The places searched by name, in order, as (label, candidate path)."""
    locations: list[tuple[str, Path]] = []
    env_dir = os.environ.get("NST_WEIGHTS_DIR")
    if env_dir:
        locations.append(("$NST_WEIGHTS_DIR", Path(env_dir).expanduser() / spec.filename))
    locations.append(("project weights/", PROJECT_WEIGHTS_DIR / spec.filename))
    if spec.packaged is not None:
        packaged = spec.packaged()
        if packaged is not None:
            locations.append(("installed package", packaged))
    locations.append(("torch hub cache", hub_checkpoint_dir() / spec.filename))
    return locations


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify(spec: WeightSpec, path: Path) -> None:
    """Raise `WeightsError` unless `path`'s sha256 starts with the hash in the file name."""
    expected = spec.hash_prefix
    if expected is None:
        return
    actual = sha256_of(path)
    if not actual.startswith(expected):
        raise WeightsError(
            f"{path}: sha256 {actual[: len(expected)]}… does not match the expected prefix "
            f"{expected} for {spec.model} (corrupt or incomplete file?); delete it and run "
            f"`nst weights download {spec.model}`"
        )


def find(spec: WeightSpec) -> ResolvedWeights | None:
    """The first existing file among the named locations, verified; None if none exists."""
    for label, candidate in search_locations(spec):
        if candidate.is_file():
            verify(spec, candidate)
            return ResolvedWeights(candidate, label, verified=spec.hash_prefix is not None)
    return None


def resolve(
    spec: WeightSpec,
    explicit: str | os.PathLike[str] | None = None,
    offline: bool = False,
    progress: bool = True,
) -> ResolvedWeights:
    """Find the weights for `spec`, downloading them if allowed; see the module docstring."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise WeightsError(f"{path}: weights file not found")
        return ResolvedWeights(path, "--weights", verified=False)
    found = find(spec)
    if found is not None:
        return found
    offline = offline or offline_from_env()
    if spec.url is None or offline:
        raise WeightsError(_missing_message(spec, offline))
    return download(spec, progress=progress)


def download(spec: WeightSpec, progress: bool = True) -> ResolvedWeights:
    """Fetch `spec.url` into the torch hub cache with torchvision's downloader.

    `download_url_to_file` writes to a temporary file, checks the hash prefix and only then
    renames, so an interrupted download never leaves a file that looks complete.
    """
    if spec.url is None:
        raise WeightsError(_missing_message(spec, offline=False))
    target = hub_checkpoint_dir() / spec.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(
            spec.url, str(target), hash_prefix=spec.hash_prefix, progress=progress
        )
    except Exception as error:  # urllib raises many types; all mean "no usable file"
        reason = getattr(error, "reason", None) or error
        raise WeightsError(
            f"could not download {spec.model} weights from {spec.url} ({reason}). "
            + _where_searched(spec)
        ) from None
    return ResolvedWeights(target, "downloaded", verified=spec.hash_prefix is not None)


def _where_searched(spec: WeightSpec) -> str:
    folders = ", ".join(f"{label} ({path.parent})" for label, path in search_locations(spec))
    return f"Searched for {spec.filename} in: {folders}."


def _missing_message(spec: WeightSpec, offline: bool) -> str:
    why = "offline mode" if offline else "no download URL"
    url = f" from {spec.url}" if spec.url else ""
    return (
        f"{spec.model} weights {spec.filename} not found ({why}). {_where_searched(spec)} "
        f"Download it{url} into one of those folders, or pass --weights FILE."
    )


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint safely (`weights_only`), unwrapping common {'state_dict': ...} shapes."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # pickle/zip errors vary by torch version, and their text is internals
        reason = unreadable_reason(path)
        raise WeightsError(f"{path}: not a readable PyTorch weights file{reason}") from None
    for key in ("state_dict", "model", "params"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
    if not isinstance(loaded, dict) or not all(
        isinstance(v, torch.Tensor) for v in loaded.values()
    ):
        raise WeightsError(f"{path}: does not contain a state dict of tensors")
    return loaded


#: File signatures of things users mistake for weights files.
_SIGNATURES = {b"\xff\xd8\xff": "a JPEG image", b"\x89PNG": "a PNG image", b"GIF8": "a GIF image"}


def unreadable_reason(path: Path) -> str:
    """Why a weights file cannot be read, in our words ('' when the bytes do not tell)."""
    try:
        with path.open("rb") as stream:
            head = stream.read(8)
    except OSError as error:
        return f" ({error.strerror or error})"
    for signature, kind in _SIGNATURES.items():
        if head.startswith(signature):
            return f": it is {kind}"
    if head.startswith((b"PK\x03\x04", b"\x80")):  # zip (torch.save) or legacy pickle
        return ": truncated or corrupt (an incomplete download?)"
    return ""


def build_network(
    factory: Callable[[], torch.nn.Module],
    source: Path | None,
    model: str,
    state: dict[str, torch.Tensor] | None = None,
) -> torch.nn.Module:
    """Build `factory()` with the weights of the file `source`, or randomly initialised if
    None. `state` is the file's content when the caller has read (or converted) it already.

    With weights, the network is first built on the meta device, so no time is spent
    randomly initialising parameters (VGG19's classifier alone is 120 M) that the file
    replaces anyway.
    """
    if source is None:
        return factory()
    with torch.device("meta"):
        network = factory()
    load_into(network, source, model, assign=True, state=state)
    return network


def load_into(
    module: torch.nn.Module,
    path: Path,
    model: str,
    assign: bool = False,
    state: dict[str, torch.Tensor] | None = None,
) -> None:
    """Load the weights file `path` into `module` strictly; a mismatch is a clear
    `WeightsError` naming the file. `state`: its content, when already read (or converted)."""
    state = load_state_dict(path) if state is None else state
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(
        key for key in set(state) & set(expected) if state[key].shape != expected[key].shape
    )
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
        if wrong_shape:
            key = wrong_shape[0]
            parts.append(
                f"{len(wrong_shape)} shape mismatches (e.g. {key}: file "
                f"{tuple(state[key].shape)}, model {tuple(expected[key].shape)})"
            )
        raise WeightsError(f"{path}: does not fit the {model} architecture: " + "; ".join(parts))
    module.load_state_dict(state, strict=True, assign=assign)


def packaged_file(package: str, *parts: str) -> Callable[[], Path | None]:
    """A `WeightSpec.packaged` callable for a data file inside an installed package,
    found with `importlib.resources` (None when the package is not installed)."""

    def locate() -> Path | None:
        try:
            resource = importlib.resources.files(package).joinpath(*parts)
        except ModuleNotFoundError:
            return None
        # Installed packages are plain folders, so the resource is a real file on disk.
        return Path(str(resource)) if resource.is_file() else None

    return locate


def obtainable(spec: WeightSpec, offline: bool = False, timeout: float = 5.0) -> bool:
    """Whether `resolve` would succeed: a copy is here, or its URL answers (not offline).

    Cheap: a file lookup, else one HEAD request. Lets a long-running service offer only
    what it can run instead of failing each job that needs unreachable weights.
    """
    try:
        if find(spec) is not None:
            return True
    except WeightsError:  # a corrupt copy: resolve would fail too
        return False
    if spec.url is None or offline or offline_from_env():
        return False
    request = urllib.request.Request(spec.url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 400
    except Exception:  # DNS, refused, timeout, HTTP error: not downloadable from here
        return False
