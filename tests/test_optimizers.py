"""The loop's optimisers: torch.optim's, made without importing torch._dynamo (start-up)."""

from __future__ import annotations

import subprocess
import sys

import torch

from nstcli.engine.config import StylizeConfig
from nstcli.engine.optimizers import make_optimizer


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True
    )
    return out.stdout.strip()


def test_a_default_run_does_not_import_torch_dynamo():
    """Its import was about 1 s of every `nst` start (the first Optimizer made in a
    process), for a compiler the engine never uses."""
    code = (
        "import sys\n"
        "from PIL import Image\n"
        "from nstcli.engine.config import StylizeConfig\n"
        "from nstcli.engine.stylize import stylize\n"
        "content = Image.new('RGB', (40, 32), (200, 120, 40))\n"
        "style = Image.effect_noise((48, 48), 60).convert('RGB')\n"
        "result = stylize(content, style, StylizeConfig(backbone='lite', size=32, steps=4))\n"
        "assert result.config.optimizer == 'lbfgs' and len(result.history) == 4\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    assert _run(code) == "False"


def test_once_torch_dynamo_is_loaded_the_methods_go_through_its_disable():
    """Someone compiling in the same process gets torch's own behaviour back."""
    code = (
        "import torch, torch._dynamo\n"
        "from nstcli.engine.config import StylizeConfig\n"
        "from nstcli.engine.optimizers import make_optimizer\n"
        "x = torch.zeros(3, requires_grad=True)\n"
        "optimizer = make_optimizer(x, StylizeConfig(optimizer='lbfgs', lr=1.0))\n"
        "seen = []\n"
        "real = torch._dynamo.disable\n"
        "def recording(fn, *args, **kwargs):\n"
        "    seen.append(fn.__name__)\n"
        "    return real(fn, *args, **kwargs)\n"
        "torch._dynamo.disable = recording\n"
        "optimizer.zero_grad()\n"
        "optimizer.state_dict()\n"
        "print(sorted(seen))\n"
    )
    assert _run(code) == "['state_dict', 'zero_grad']"


def test_the_seeded_methods_still_do_their_work():
    x = torch.zeros(3, requires_grad=True)
    optimizer = make_optimizer(x, StylizeConfig(optimizer="lbfgs", lr=1.0))
    x.grad = torch.ones(3)
    optimizer.zero_grad(set_to_none=True)
    assert x.grad is None
    state = optimizer.state_dict()
    assert state["param_groups"][0]["lr"] == 1.0
    optimizer.load_state_dict(state)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = ((x - 2) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(5):
        optimizer.step(closure)
    assert torch.allclose(x.detach(), torch.full((3,), 2.0), atol=1e-3)
