"""Loss-spike guard: when the loss jumps, roll back to the best pixels and lower the step."""

from __future__ import annotations

import math

import torch


class SpikeGuard:
    """Watches the loss; on a spike, rolls back to the best image and lowers the step.

    A spike is a non-finite loss or one above `ratio` × the best loss seen so far. L-BFGS
    in particular can take a wild step once its curvature history goes stale; continuing
    from there wastes many steps, so the guard restores the best pixels, multiplies every
    parameter group's learning rate by `decay` and clears the optimiser's state (history or
    moments computed at the bad point).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, ratio: float = 1.5, decay: float = 0.5):
        self.optimizer = optimizer
        self.ratio = ratio
        self.decay = decay
        self.best_loss = math.inf
        self.best_image: torch.Tensor | None = None
        self.spikes = 0

    def observe(self, loss: float, evaluated: torch.Tensor, image: torch.Tensor) -> bool:
        """Record `loss`, measured at pixels `evaluated`; on a spike, reset `image` in place.

        The two differ because an optimiser step evaluates the loss and then moves the
        pixels: the loss belongs to the pixels before the move. Returns True on a spike.
        """
        if math.isfinite(loss) and loss <= self.best_loss:
            self.best_loss = loss
            self.best_image = evaluated.detach()
            return False
        if math.isfinite(loss) and loss <= self.best_loss * self.ratio:
            return False
        self.spikes += 1
        for group in self.optimizer.param_groups:
            group["lr"] *= self.decay
        self.optimizer.state.clear()
        if self.best_image is not None:
            with torch.no_grad():
                image.copy_(self.best_image)
        return True

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])
