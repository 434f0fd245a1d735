"""The loop's optimisers (torch.optim's L-BFGS and Adam), made without importing torch._dynamo.

torch marks four `Optimizer` methods (`add_param_group`, which `__init__` calls, `zero_grad`,
`state_dict`, `load_state_dict`) with `torch._disable_dynamo`. Its wrapper imports
torch._dynamo on the first call, only to wrap the method for the compiler: 1.0-1.5 s here,
as long as importing torch itself, at every `nst` start (measured: the first
`torch.optim.LBFGS(...)` of a process takes 1.03 s, the next ones microseconds). The
wrapper looks for its answer cached on the method first; we put one there that calls the
method itself while torch._dynamo is not loaded (then nothing can be compiling, and
dynamo's `disable` would do exactly that), and defers to the real `disable` once it is.
Adam's `step` imports torch._dynamo anyway (`_use_grad_for_differentiable`); every
backbone's default, L-BFGS, does not. The seeding is on `torch.optim.Optimizer` itself, so
it holds for every optimiser of the process (the SR training's too), with the same effect.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import torch

from nstcli.engine.config import StylizeConfig

#: The attribute torch._compile._disable_dynamo's wrapper caches its disabled function in.
_CACHE = "__dynamo_disable"


def make_optimizer(image: torch.Tensor, config: StylizeConfig) -> torch.optim.Optimizer:
    """L-BFGS (one iteration per step) or Adam over `image`, at the config's step size."""
    _defer_dynamo_import()
    if config.optimizer == "lbfgs":
        # One iteration per step, so progress, spikes and cancellation act per evaluation.
        return torch.optim.LBFGS([image], lr=config.lr, max_iter=1, history_size=50)
    return torch.optim.Adam([image], lr=config.lr)


@functools.cache  # once a process: the seeds stay where they are put
def _defer_dynamo_import() -> None:
    """Seed the cache of each `Optimizer` method torch wraps in `_disable_dynamo`."""
    disable = getattr(torch, "_disable_dynamo", None)
    if disable is None:  # a torch without that mechanism: nothing to defer
        return
    # the code object of the wrapper `torch._disable_dynamo` puts around a function
    wrapper_code = getattr(disable(lambda: None), "__code__", None)
    for member in vars(torch.optim.Optimizer).values():
        original = getattr(member, "__wrapped__", None)
        if getattr(member, "__code__", None) is not wrapper_code or original is None:
            continue
        if getattr(original, _CACHE, None) is None:
            setattr(original, _CACHE, _until_dynamo_loads(original))


def _until_dynamo_loads(original: Callable[..., Any]) -> Callable[..., Any]:
    """`original` as it is while torch._dynamo is not loaded; dynamo's `disable` after."""
    disabled: Callable[..., Any] | None = None

    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal disabled
        if disabled is None:
            if "torch._dynamo" not in sys.modules:  # no compiler loaded: nothing to disable
                return original(*args, **kwargs)
            import torch._dynamo

            # recursive=True: what torch 2.14's plain `@torch._disable_dynamo` on these
            # methods passes (none of them uses `_disable_dynamo(recursive=False)`).
            disabled = torch._dynamo.disable(original, recursive=True, wrapping=False)
        return disabled(*args, **kwargs)

    return call
