"""The one helper for "every N steps" actions (logging, eval, samples, checkpoints)."""


def due(step: int, every: int, last_step: int) -> bool:
  """True when an action run every `every` steps should run after `step` steps.

  Actions also run at the final step so a finished run always ends logged, evaluated and saved.
  `every <= 0` disables the periodic action (it still runs at the final step).
  """
  if step == last_step:
    return True
  return every > 0 and step > 0 and step % every == 0
