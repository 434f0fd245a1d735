"""nst: neural style transfer and super-resolution from the command line and Telegram."""

import os

# OpenMP threads that wait by spinning make PyTorch 10-25x slower whenever another process
# (a second job, a bot worker, a training run) shares the cores: measured here, a 30-step
# lite run took 120 s instead of 5 s beside one busy process. Passive waiting costs nothing
# for vgg and ~15% for lite on an idle machine. It must be set before torch loads OpenMP;
# an explicit setting by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from importlib.metadata import PackageNotFoundError, version

try:  # one version source: pyproject.toml, as installed
    __version__ = version("nst")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
