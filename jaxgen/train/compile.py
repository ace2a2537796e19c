"""Compiling functions that run once, where XLA's compile time is all their cost."""

from typing import Any, Callable

import jax

# XLA's CPU backend optimisation (LLVM -O2 over every fused kernel) is what takes the time in
# compiling an initialiser: the tiny VampPrior's create_state compiles in 14.6 s at the default
# level and in 2.1 s at level 0, then runs in 18 ms rather than 6 ms, once.
_ONCE_OPTIONS = {"xla_backend_optimization_level": 0}


def run_once(fn: Callable[..., Any], *args: Any, out_shardings: Any = None) -> Any:
  """Returns `fn(*args)` through `jax.jit`, compiled for a single call: on CPU with XLA's backend
  optimisation off. For initialisers (a family's `create_state`), never for steps that repeat."""
  jitted = jax.jit(fn) if out_shardings is None else jax.jit(fn, out_shardings=out_shardings)
  lowered = jitted.lower(*args)
  options = _ONCE_OPTIONS if jax.default_backend() == "cpu" else None
  return lowered.compile(compiler_options=options)(*args)
