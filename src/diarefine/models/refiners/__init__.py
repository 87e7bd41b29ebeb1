"""Boundary refiners: ``nn.Module``s only (their losses live in :mod:`diarefine.train`,
their use in :mod:`diarefine.stages.refinement.learned`).

Every variant reads one boundary's window ``frames`` (B, W, C) and ``static`` (B, 2D + 7)
(:mod:`diarefine.stages.refinement.features`) and its ``forward`` returns a
`RefinerOutput`: the proposed correction in seconds (B,), a confidence (B,) (higher is
surer; the refiner abstains below a threshold) and a keep logit (B,) (the boundary has a
reference partner) where the variant has one.
"""

from __future__ import annotations

from diarefine.models.refiners.common import RefinerOutput, WindowSpec
from diarefine.models.refiners.diffusion import DiffusionRefiner
from diarefine.models.refiners.frames import ContrastiveRefiner, TransformerRefiner
from diarefine.models.refiners.mlp import MLPRefiner

VARIANTS = {"mlp": MLPRefiner, "transformer": TransformerRefiner,
            "diffusion": DiffusionRefiner, "contrastive": ContrastiveRefiner}

__all__ = ["VARIANTS", "ContrastiveRefiner", "DiffusionRefiner", "MLPRefiner",
           "RefinerOutput", "TransformerRefiner", "WindowSpec"]
