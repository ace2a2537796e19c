"""The speed benchmarks: the op-kind profile adds up, and the ratio table is computed right."""

import json
import os
import subprocess
import sys

import pytest

from experiments.bench import peer_ratios, profile_steps

_HLO = """HloModule jit_f

%fused_computation.1 (param_0: f32[8,16,16,4], param_1: f32[8,16,16,4]) -> f32[3,3,4,4] {
  %param_0 = f32[8,16,16,4]{3,2,1,0} parameter(0)
  %param_1 = f32[8,16,16,4]{3,2,1,0} parameter(1)
  ROOT %convolution.9 = f32[3,3,4,4]{3,2,1,0} convolution(%param_0, %param_1), window={size=16x16 pad=1_1x1_1}, dim_labels=f01b_i01o->01bf
}

ENTRY %main (x: f32[8,16,16,4], w: f32[3,3,4,4]) -> f32[3,3,4,4] {
  %conv_general_dilated.3 = f32[8,16,16,4]{3,2,1,0} convolution(%x, %w), window={size=3x3 pad=1_1x1_1}, dim_labels=b01f_01io->b01f, metadata={op_name="jit(f)/jvp()/conv_general_dilated"}
  %convolution = f32[8,16,16,4]{3,2,1,0} convolution(%conv_general_dilated.3, %w), window={size=3x3 pad=1_1x1_1}, dim_labels=b01f_01io->b01f, metadata={op_name="jit(f)/transpose(jvp())/conv_general_dilated"}
  %ynn_fusion.1 = f32[3,3,4,4]{3,2,1,0} fusion(%x, %convolution), kind=kCustom, calls=%fused_computation.1, backend_config={"fusion_config":{"kind":"__ynn_fusion"}}
  %dot.2 = f32[8,4]{1,0} dot(%x, %w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  %multiply_add_fusion = f32[8,16,16,4]{3,2,1,0} fusion(%x, %convolution), kind=kLoop, calls=%fused_computation.2, metadata={op_name="jit(f)/jvp(UNet)/ResBlock_0/GroupNorm_0/mul"}
  %add_fusion = f32[3,3,4,4]{3,2,1,0} fusion(%w, %w), kind=kLoop, calls=%fused_computation.3, metadata={op_name="jit(f)/add"}
  %transpose_copy_fusion.2 = f32[3,3,4,4]{3,2,1,0} fusion(%w), kind=kLoop, calls=%fused_computation.4, metadata={op_name="jit(f)/add"}
  ROOT %copy.1 = f32[3,3,4,4]{3,2,1,0} copy(%ynn_fusion.1)
}
"""


def test_hlo_instructions_are_classified_by_kind_and_conv_direction():
  kinds = profile_steps.classify(_HLO)
  assert kinds["conv_general_dilated.3"] == "conv forward"
  assert kinds["convolution"] == "conv input grad"
  assert kinds["ynn_fusion.1"] == "conv weight grad"  # found inside the library fusion
  assert kinds["dot.2"] == "matmul (dense layers)"
  assert kinds["multiply_add_fusion"] == "normalisation (group / batch norm)"
  assert kinds["add_fusion"] == "optimizer, EMA, random numbers"
  assert kinds["copy.1"] == kinds["transpose_copy_fusion.2"] == "copy / transpose"


@pytest.mark.slow
def test_profile_of_a_real_step_adds_up_to_its_wall_time():
  env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu")
  out = subprocess.run([sys.executable, "-m", "experiments.bench.profile_steps", "--configs", "vae",
                        "--steps", "5", "--profile-steps", "1"],
                       env=env, capture_output=True, text=True, timeout=600, check=True)
  res = json.loads(out.stdout.strip().splitlines()[-1])["results"][0]
  kinds = res["kinds_ms"]
  assert {"conv forward", "conv input grad", "conv weight grad"} <= set(kinds)
  assert all(ms >= 0 for ms in kinds.values())
  # Every instruction is charged once and idle time goes to a convolution: the traced sum is the
  # step's time (a loose band: the trace and the timed steps are different calls).
  assert 0.5 * res["step_ms_median"] < res["traced_ms"] < 2.0 * res["step_ms_median"]
  assert "| conv weight grad |" in out.stdout and "### vae" in out.stdout


def test_ratio_table_uses_medians_over_rounds_and_flops_for_utilisation():
  def round_(scale):
    r = {f"{side}:{k}": v * (scale if side == "jaxgen" else 1.0)
         for side in ("jaxgen", "torch")
         for k, v in (("unet_train", 10.0), ("unet_sample", 20.0), ("dcgan", 100.0), ("vae", 1000.0))}
    r.update({"jaxgen:matmul": 100.0, "torch:matmul": 200.0, "jaxgen:unet_train_gflop": 5.0,
              "torch:unet_train_gflop": 5.0, "jaxgen:dcgan_gflop": 0.4, "torch:dcgan_gflop": 0.4,
              "jaxgen:vae_gflop": 0.03, "torch:vae_gflop": 0.03})
    return r

  text = peer_ratios.table([round_(0.5), round_(2.0), round_(1.0)])  # median ratio 1.0
  assert "| U-Net 32x32x3 (64,128,128) train, batch 32 | 10.0 images/s | 10.0 images/s | **1.00x** |" in text
  assert "50 (50%) | 50 (25%) |" in text  # 10 images/s * 5 GFLOP against 100 and 200 GFLOP/s
  assert "unet_train 0.50" in text and "unet_train 2.00" in text  # each round's ratio


def test_ratio_script_without_the_peer_environment_is_a_one_line_error(tmp_path):
  out = subprocess.run([sys.executable, "-m", "experiments.bench.peer_ratios", "--peer-python",
                        str(tmp_path / "missing")], capture_output=True, text=True, timeout=60)
  assert out.returncode == 1
  assert out.stderr.strip().startswith("error: no PyTorch peer environment at")
  assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("summary,expected", [({"quiet_images_per_s_median": 5.0, "images_per_s_median": 4.0}, 5.0),
                                              ({"images_per_s_median": 4.0}, 4.0)])
def test_quiet_figures_are_preferred(summary, expected):
  assert peer_ratios.pick(summary, "images") == expected


def test_attention_table_takes_medians_and_the_ratios_against_both_peers():
  from experiments.bench import attention_ratios

  def round_(scale):
    return {f"{impl}:vit:{mode}": value * (scale if impl == "jaxgen" else 1.0)
            for impl, value in (("jaxgen", 300.0), ("flax", 150.0), ("torch", 200.0))
            for mode in attention_ratios.MODES}

  text = attention_ratios.table([round_(0.5), round_(2.0), round_(1.0)], ["vit"])
  # Medians 300 (jaxgen), 150 (flax), 200 (PyTorch): 1.5x PyTorch and 2x flax.
  assert "| forward | 300.0 | 150.0 | 200.0 | **1.50x** | 2.00x |" in text
  assert "vit forward 0.75" in text and "vit forward 3.00" in text  # each round's ratio


@pytest.mark.slow
def test_attention_step_times_both_blocks_at_the_tiny_size():
  from experiments.bench import attention_step
  for impl in ("jaxgen", "flax"):
    res = attention_step.bench(impl, "tiny", calls=2, warmup=1)
    assert res["params"] > 0 and res["gflop_train_per_image"] > res["gflop_forward_per_image"] > 0
    assert res["train"]["images_per_s_median"] > 0, res


@pytest.mark.slow
def test_device_benchmark_quick_rows_and_table(tmp_path):
  """The device benchmark's quick mode on CPU: matmul peaks, a family's compiled train step with
  XLA's FLOP count and MFU, "f32 only" where a network has no dtype switch, one table."""
  from experiments.bench import device
  rows = device.run(quick=True, only={"peak", "vae"}, reps=1)
  by_key = {(r["name"], r["dtype"]): r for r in rows}
  assert {d for (n, d) in by_key if n.startswith("matmul")} == {"float32", "bfloat16"}
  vae = by_key[("vae", "float32")]
  assert vae["images_per_s"] > 0 and vae["flops"] > 0 and 0 < vae["mfu"] < 1.0  # of the peak
  assert by_key[("vae", "bfloat16")]["note"] == "f32 only"
  text = device.table(rows, "cpu test")
  assert text.count("\n| ") == len(rows) + 1 and "| vae | float32 |" in text


def test_device_model_flops_counts_convolutions_exactly():
  """model_flops (the MFU numerator) counts a matmul's 2mnk and a SAME 3x3 convolution's
  in-bounds multiply-adds: 22 of an 8-pixel row's 24 taps fall inside, so 22^2 taps a channel
  pair (the GPU's own count gives 0 for cuDNN convolutions, hence the CPU lowering)."""
  import jax
  import jax.numpy as jnp
  from experiments.bench import device
  conv = lambda x, w: jax.lax.conv_general_dilated(
      x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
  x, w = jnp.ones((2, 8, 8, 4)), jnp.ones((3, 3, 4, 5))  # batch 2, 4 -> 5 channels
  assert device.model_flops(conv, x, w) == 2 * 2 * 22**2 * 4 * 5
  assert device.model_flops(lambda a, b: a @ b, jnp.ones((16, 32)), jnp.ones((32, 8))) == 2 * 16 * 32 * 8
