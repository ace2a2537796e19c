"""Mixed precision: `config.compute_dtype = "bfloat16"` runs a network's matmuls and convolutions
in bfloat16 while parameters, optimizer state, losses and their reductions stay float32.

Flax linen does the casting: a module built with `dtype=bfloat16` and the default float32
`param_dtype` keeps float32 parameters and casts them (and its inputs) to bfloat16 where it
computes; gradients flow back to the float32 parameters, so the optimizer sees float32. The
networks that take a dtype (the U-Net, the shared attention blocks) cast their outputs back to
float32, and the diffusion schedules and the VLB stay in float32/float64 (they never see the
network's dtype).
"""

from typing import Any

import jax.numpy as jnp

from jaxgen.errors import UserError

_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def compute_dtype(config: Any) -> Any:
  """config.compute_dtype ("float32", the default, or "bfloat16") as a jnp dtype."""
  name = str(config.get("compute_dtype", "float32"))
  if name not in _DTYPES:
    raise UserError(f"compute_dtype={name!r} is not supported; use one of {', '.join(_DTYPES)}")
  return _DTYPES[name]
