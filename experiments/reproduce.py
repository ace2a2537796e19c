"""One command for every record: the manifest of trainings and reports, run in order.

  python -m experiments.reproduce --list            # each record's state
  python -m experiments.reproduce                   # train what is missing, report, tables
  python -m experiments.reproduce --only=dcgan      # one record (and the trainings it needs)
  python -m experiments.reproduce --dry_run         # print the commands only

The manifest below names every default config's training (with the first stages it builds
on), every record made from it with its report settings, and the comparisons the README
quotes. A run trains what has no finished workdir under --runs_dir (resuming a half-done one;
one at a time, in the chains' order), writes the records that are not current, then the
comparisons and `experiments.report --tables --update_readme`. States in --list:
- current: scored by a pinned scorer, made and trained from committed code;
- dirty: the record or its model comes from uncommitted changes (never published: the report
  refuses to write one);
- stale scorer: scored by an older, unpinned scorer (rescore it: its workdir must exist);
- no training commit: made from a commit, but before the loop wrote the training commit
  (provenance.json); retraining makes it current;
- missing: no record yet.
"""

import dataclasses
import json
import os
import subprocess
import sys

from absl import app, flags

_LIST = flags.DEFINE_bool("list", False, "Show each record's state and stop.")
_ONLY = flags.DEFINE_string("only", None, "Reproduce this record alone (with its trainings).")
_RUNS = flags.DEFINE_string("runs_dir", "runs", "Where the trainings' workdirs live.")
_DRY = flags.DEFINE_bool("dry_run", False, "Print the commands instead of running them.")
_REDO = flags.DEFINE_bool("redo_current", False, "Rewrite records that are already current.")


@dataclasses.dataclass(frozen=True)
class Training:
  """One training run: a config file, its overrides, and the trainings it builds on (first
  stages, named in the overrides by their workdirs)."""

  name: str
  config: str
  overrides: tuple[str, ...] = ()
  needs: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Record:
  """One record: the training it scores, the tool's settings (experiments.report, or
  experiments.brain_eval for the brain chain) and the other trainings those settings read (a
  guiding classifier, the baselines a brain evaluation compares with)."""

  name: str
  training: str
  args: tuple[str, ...] = ()
  tool: str = "report"
  needs: tuple[str, ...] = ()


def _first(flag: str, training: str) -> str:
  return f"--config.{flag}={{runs}}/{training}"


# jaxgen.data.brain.SWEEP_SNRS as brain_digits config tags (0.01 -> sbj_1_snr0p01); spelt out
# here, where importing the data module (and tfds) for a name would be slow; a test ties them.
SWEEP_TAGS = ("0p01", "0p2")
_STEP1 = ("--config.num_train_steps=1", "--config.fcd_num_samples=0")
TRAININGS = {t.name: t for t in (
    Training("ae", "ae"), Training("vae", "vae"), Training("cvae", "cvae"),
    Training("vampprior", "vampprior"),
    Training("gan", "gan"), Training("dcgan", "dcgan"), Training("cgan", "cgan"),
    Training("transgan", "transgan"), Training("ctransgan", "ctransgan"),
    # Durall et al.'s pairing: TransGAN's generator against a convolutional critic.
    Training("transgan_conv", "transgan_conv"),
    Training("cyclegan", "cyclegan"),
    Training("cyclegan_plain", "cyclegan", ("--config.semantic_weight=0",)),
    Training("vqvae", "vqvae"), Training("kl_autoencoder", "kl_autoencoder"),
    # MaskGIT against the autoregressive baseline at 196 codes a digit (the crossover). The
    # tokenizer trained in 39 minutes. On 4x the codes the baseline ran at 0.6 steps/s alone
    # and MaskGIT at 0.4 with the cores shared (first 100 steps of runs stopped early): 2000
    # steps would take near an hour, so each gets 1000 (the same budget for both).
    Training("vqvae14", "vqvae14"),
    Training("maskgit14", "maskgit", (_first("tokenizer_workdir", "vqvae14"),
                                      "--config.num_train_steps=1000"), ("vqvae14",)),
    Training("maskgit_ar14", "maskgit_ar", (_first("tokenizer_workdir", "vqvae14"),
                                            "--config.num_train_steps=1000"), ("vqvae14",)),
    # The crossover's speed record times runs stopped after one step at both lengths: decoding
    # cost does not depend on the weights (fixed shapes, a fixed number of calls).
    *(Training(f"vqvae{g}_step1", f"vqvae{g}", _STEP1 + ("--config.recon_quality=False",))
      for g in ("", "14")),
    *(Training(f"{m}{g}_step1", m, _STEP1 + (_first("tokenizer_workdir", f"vqvae{g}_step1"),),
               (f"vqvae{g}_step1",)) for m in ("maskgit", "maskgit_ar") for g in ("", "14")),
    Training("ddpm", "ddpm"), Training("cfg", "cfg"), Training("iddpm", "iddpm"),
    # iDDPM's network, cosine schedule and strided ancestral sampler on L_simple with DDPM's
    # fixed variance: what the learned variances and the hybrid loss change, apart.
    Training("iddpm_simple", "iddpm", ("--config.diffusion.var_type=fixed_large",
                                       "--config.diffusion.loss_type=mse")),
    Training("ncsn", "ncsn"),
    Training("noisy_classifier", "noisy_classifier"),
    Training("ldm", "ldm", (_first("autoencoder_workdir", "kl_autoencoder"),),
             ("kl_autoencoder",)),
    Training("diffae", "diffae"),
    Training("diffae_latent", "diffae_latent", (_first("diffae_workdir", "diffae"),),
             ("diffae",)),
    Training("maskgit", "maskgit", (_first("tokenizer_workdir", "vqvae"),), ("vqvae",)),
    Training("maskgit_ar", "maskgit_ar", (_first("tokenizer_workdir", "vqvae"),), ("vqvae",)),
    Training("paella", "paella", (_first("tokenizer_workdir", "vqvae"),), ("vqvae",)),
    Training("vit", "vit"),
    Training("cnn_matched", "classifier", ("--config.num_train_steps=3500",)),
    # DeiT's hard distillation from the CNN trained as long (issue 36).
    Training("vit_distilled", "vit", (_first("teacher_workdir", "cnn_matched"),),
             ("cnn_matched",)),
    # The brain chain (MinD-Vis), in its order.
    # The ldm config's shape when the brain chain's records were trained (before issue 38's
    # speed sizing): transformers at 8x8 and 4x4, no pooled context, guidance 2.
    Training("ldm_label", "ldm", ("--config.context=label",
                                  _first("autoencoder_workdir", "kl_autoencoder"),
                                  "--config.num_train_steps=1500",
                                  "--config.model.attention_resolutions=(8, 4)",
                                  "--config.model.pooled_context=False",
                                  "--config.sampler.guidance_scale=2.0"), ("kl_autoencoder",)),
    Training("mbm", "mbm"),
    Training("mindvis", "mindvis", (_first("ldm_workdir", "ldm_label"),
                                    _first("mbm_workdir", "mbm")), ("ldm_label", "mbm")),
    Training("mindvis_scratch", "mindvis", (_first("ldm_workdir", "ldm_label"),
                                            "--config.mbm_workdir="), ("ldm_label",)),
    Training("mindvis_shuffled", "mindvis", (_first("ldm_workdir", "ldm_label"),
                                             _first("mbm_workdir", "mbm"),
                                             "--config.shuffle_pairs=True"), ("ldm_label", "mbm")),
    # The SNR sweep: stage B, with and without stage A, on the paired signals at each other
    # SNR (the same resting-state pretraining).
    *(Training(f"mindvis{kind}_snr{tag}", "mindvis", (
        _first("ldm_workdir", "ldm_label"),
        _first("mbm_workdir", "mbm") if kind == "" else "--config.mbm_workdir=",
        f"--config.dataset=brain_digits/sbj_1_snr{tag}"),
        ("ldm_label", "mbm") if kind == "" else ("ldm_label",))
      for tag in SWEEP_TAGS for kind in ("", "_scratch")),
)}

_CODE_SAMPLES = ("--num_samples=500",)
DDIM_GRID_STEPS, DDIM_GRID_ETAS = (10, 20, 50, 100), (0.0, 0.5, 1.0)
# Ho & Salimans' w and Dhariwal & Nichol's classifier scale, from no guidance up.
CFG_SWEEP, CLASSIFIER_SWEEP = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0), (0.0, 1.0, 2.0, 4.0, 6.0, 10.0)
RECORDS = {r.name: r for r in (
    *(Record(n, n) for n in ("ae", "vae", "cvae", "vampprior", "gan", "dcgan", "cgan",
                             "transgan", "ctransgan", "transgan_conv", "cyclegan", "cyclegan_plain", "vqvae",
                             "kl_autoencoder", "ddpm", "cfg", "iddpm", "iddpm_simple", "vit",
                             "cnn_matched")),
    # DDIM's Table 1 shape on the ddpm default: steps by eta, with DDPM-1000 and DDIM-1000.
    *(Record(f"ddpm_ddim{s}_eta{e:g}".replace(".", "p"), "ddpm", ("--num_samples=500", "--nll_examples=0",
                                                f"--setting=ddim:{s}:eta={e:g}"))
      for s in DDIM_GRID_STEPS for e in DDIM_GRID_ETAS),
    Record("ddpm_ddpm1000", "ddpm", ("--num_samples=500", "--nll_examples=0",
                                     "--setting=ddpm:1000")),
    Record("ddpm_ddim1000", "ddpm", ("--num_samples=500", "--nll_examples=0",
                                     "--setting=ddim:1000")),
    Record("iddpm_ddpm1000", "iddpm", ("--num_samples=500", "--nll_examples=0",
                                       "--setting=ddpm:1000")),
    Record("ncsn", "ncsn", ("--num_samples=500", "--setting=pc:steps=1:snr=0.16")),
    # Guidance tuned on validation (validation/ldm_guidance.json): w = 4 for adherence, the
    # config's default since; w = 1 for FCD, the trade-off's other end.
    Record("ldm", "ldm", ("--setting=ddim:50:w=4",)),
    Record("ldm_w1", "ldm", ("--setting=ddim:50:w=1",)),
    Record("diffae", "diffae", ("--num_samples=200",)),
    Record("diffae_latent", "diffae_latent", ("--num_samples=200",)),
    # The samplers tuned on validation, spelt out: runs trained before the tuning saved w=1
    # (MaskGIT) and temperature 1, no top-k (the baseline) in their configs.
    *(Record(f"maskgit_s{s}", "maskgit", (f"--setting=steps={s}:w=2:top_k=8",))
      for s in (1, 2, 4, 8, 12)),
    Record("maskgit_ar", "maskgit_ar", ("--setting=w=1:temp=0.8:top_k=8",)),
    Record("vit_distilled", "vit_distilled"),
    Record("vqvae14", "vqvae14"),
    Record("maskgit_ar14", "maskgit_ar14", ("--setting=w=1:temp=0.8:top_k=8",)),
    Record("maskgit14_s8", "maskgit14", ("--setting=steps=8:w=2:top_k=8",)),
    *(Record(f"paella_s{s}_w{w}", "paella", (f"--setting=steps={s}:w={w}:typical=0.2",))
      for s, w in ((12, 0), (12, 4), (4, 4), (8, 4))),
    Record("brain_eval", "mindvis", (
        "--output_dir={results}/brain", "--guidance_scale=8",
        "--compare=no_pretraining={runs}/mindvis_scratch,shuffled_pairs={runs}/mindvis_shuffled",
        "--sweep=" + ",".join(f"{tag.replace('p', '.')}{kind}={{runs}}/mindvis{run}_snr{tag}"
                              for tag in SWEEP_TAGS
                              for kind, run in (("", ""), (":no_pretraining", "_scratch")))),
        tool="brain_eval", needs=("mindvis_scratch", "mindvis_shuffled", *(
            f"mindvis{run}_snr{tag}" for tag in SWEEP_TAGS for run in ("", "_scratch")))),
    # Guidance's trade-off curves (experiments.guidance_sweeps): classifier-free guidance of the
    # cfg model by w; classifier guidance by the noisy classifier of the cfg model's conditional
    # pass (w = 0: Dhariwal & Nichol's Fig. 4 guides a class-conditional model) and of the
    # unconditional ddpm (their Table 4's other row: a classifier makes it conditional).
    *(Record(f"cfg_w{w:g}".replace(".", "p"), "cfg", (
        "--num_samples=500", "--nll_examples=0", f"--setting=ddim:50:w={w:g}"))
      for w in CFG_SWEEP),
    *(Record(f"cfg_cls{s:g}", "cfg", (
        "--num_samples=500", "--nll_examples=0", f"--setting=ddim:50:eta=1:cls={s:g}",
        "--classifier_workdir={runs}/noisy_classifier"), needs=("noisy_classifier",))
      for s in CLASSIFIER_SWEEP),
    *(Record(f"ddpm_cls{s:g}", "ddpm", (
        "--num_samples=500", "--nll_examples=0", f"--setting=ddim:50:eta=1:cls={s:g}",
        "--classifier_workdir={runs}/noisy_classifier"), needs=("noisy_classifier",))
      for s in CLASSIFIER_SWEEP),
)}
# Comparison records (experiments.compare; speed: experiments.bench.speed_compare), made after
# the records they read.
COMPARISONS = {
    "ddim50_eta0_vs_eta1": ("compare", ("--a=ddpm_ddim50_eta0", "--b=ddpm_ddim50_eta1")),
    "ddim50_vs_ddpm1000": ("compare", ("--a=ddpm_ddim50_eta0", "--b=ddpm_ddpm1000")),
    "iddpm_vs_ddpm": ("compare", ("--a=iddpm", "--b=ddpm")),
    "iddpm50_vs_iddpm1000": ("compare", ("--a=iddpm", "--b=iddpm_ddpm1000")),
    "ncsn_vs_ddpm": ("compare", ("--a=ncsn", "--b=ddpm")),
    "iddpm_vs_iddpm_simple": ("compare", ("--a=iddpm", "--b=iddpm_simple")),
    "vit_vs_cnn_matched": ("compare", ("--a=vit", "--b=cnn_matched")),
    "vit_distilled_vs_cnn_matched": ("compare", ("--a=vit_distilled", "--b=cnn_matched")),
    "cgan_vs_dcgan": ("compare", ("--a=cgan", "--b=dcgan")),
    "dcgan_vs_gan": ("compare", ("--a=dcgan", "--b=gan")),
    "vae_vs_vampprior": ("compare", ("--a=vae", "--b=vampprior")),
    "cyclegan_vs_cyclegan_plain": ("compare", ("--a=cyclegan", "--b=cyclegan_plain")),
    # Issue 36: TransGAN (ViT and convolutional critics) against DCGAN; Paella against MaskGIT
    # at the same 12 steps.
    "transgan_vs_dcgan": ("compare", ("--a=transgan", "--b=dcgan")),
    "transgan_conv_vs_dcgan": ("compare", ("--a=transgan_conv", "--b=dcgan")),
    "ctransgan_vs_cgan": ("compare", ("--a=ctransgan", "--b=cgan")),
    "paella_vs_maskgit_s12": ("compare", ("--a=paella_s12_w4", "--b=maskgit_s12")),
    # MaskGIT-8 against the autoregressive baseline's quality at 49 and at 196 codes a digit.
    "maskgit_s8_vs_maskgit_ar": ("compare", ("--a=maskgit_s8", "--b=maskgit_ar")),
    "maskgit14_s8_vs_maskgit_ar14": ("compare", ("--a=maskgit14_s8", "--b=maskgit_ar14")),
    # Latent diffusion's quality per compute (issue 38): its FCD against the pixel-space cfg
    # model's (the ldm record times both samplers alternately: speed_vs_pixel).
    "ldm_vs_cfg": ("compare", ("--a=ldm", "--b=cfg")),
    "ldm_w1_vs_cfg": ("compare", ("--a=ldm_w1", "--b=cfg")),
    "vit_vs_cnn_speed": ("bench.speed_compare", (
        "--entry=vit={runs}/vit", "--entry=cnn_matched={runs}/cnn_matched",
        "--batch_sizes=1,500")),
    "code_decoding_speed": ("bench.speed_compare", (
        "--entry=maskgit_ar={runs}/maskgit_ar:w=1:temp=0.8:top_k=8",
        *(f"--entry=maskgit_s{s}={{runs}}/maskgit:steps={s}:w=2:top_k=8" for s in (1, 4, 8, 12)),
        "--entry=paella_s12_w4={runs}/paella:steps=12:w=4:typical=0.2")),
    # MaskGIT against the cached autoregressive decoder at 49 and 196 codes a digit.
    "code_decoding_crossover": ("bench.speed_compare", tuple(
        e for g, n in (("", 49), ("14", 196)) for e in (
            f"--entry=ar_{n}={{runs}}/maskgit_ar{g}_step1", f"--reference=ar_{n}",
            *(f"--entry=maskgit_s{s}_{n}={{runs}}/maskgit{g}_step1:steps={s}"
              for s in (4, 8, 12))))),
}
COMPARISON_NEEDS = {"vit_vs_cnn_speed": ("vit", "cnn_matched"),
                    "code_decoding_speed": ("maskgit_ar", "maskgit", "paella"),
                    "code_decoding_crossover": ("maskgit_step1", "maskgit_ar_step1",
                                                "maskgit14_step1", "maskgit_ar14_step1")}


def trainings_for(record: Record) -> list[str]:
  """The trainings a record needs, first stages first."""
  order: list[str] = []

  def visit(name: str) -> None:
    for need in TRAININGS[name].needs:
      visit(need)
    if name not in order:
      order.append(name)

  for name in (record.training, *record.needs):
    visit(name)
  return order


def from_committed_code(runs: str, training: str) -> bool:
  """Whether runs/<training> was trained from committed code throughout (provenance.json)."""
  from jaxgen import provenance
  return not provenance.trained_dirty(provenance.read(os.path.join(runs, training)))


def finished(runs: str, training: str) -> bool:
  """Whether runs/<training> holds its config's final checkpoint."""
  workdir = os.path.join(runs, training)
  try:
    with open(os.path.join(workdir, "config.json")) as f:
      steps = json.load(f)["num_train_steps"]
  except (OSError, ValueError, KeyError):
    return False
  return os.path.isdir(os.path.join(workdir, "checkpoints", str(steps)))


def record_state(results_dir: str, name: str) -> str:
  """current, dirty, stale scorer, no training commit or missing (see the module docstring)."""
  from experiments.tables import is_current
  path = os.path.join(results_dir, "brain" if name == "brain_eval" else "", name + ".json")
  if not os.path.exists(path):
    return "missing"
  with open(path) as f:
    record = json.load(f)
  commits = [record.get("commit", "unknown"), *record.get("trained_commits", []),
             *record.get("classifier_trained_commits", [])]
  if any("+changes" in c or c.startswith("unknown") for c in commits):
    return "dirty"
  if name != "brain_eval" and not is_current(record):
    return "stale scorer"
  if not record.get("trained_commits"):
    return "no training commit"
  return "current"


def train_command(training: Training, runs: str) -> list[str]:
  """The experiments.main command of a training, first stages under `runs`."""
  return [sys.executable, "-m", "experiments.main",
          f"--config=experiments/configs/{training.config}.py",
          f"--workdir={os.path.join(runs, training.name)}",
          *(o.format(runs=runs) for o in training.overrides)]


def record_command(record: Record, runs: str) -> list[str]:
  """The experiments.report (or brain_eval) command of a record."""
  workdir = os.path.join(runs, record.training)
  if record.tool == "brain_eval":
    from experiments import records
    return [sys.executable, "-m", "experiments.brain_eval", f"--workdir={workdir}",
            *(a.format(runs=runs, results=records.RESULTS_DIR) for a in record.args)]
  return [sys.executable, "-m", "experiments.report", f"--workdir={workdir}",
          f"--name={record.name}", *(a.format(runs=runs) for a in record.args)]


def comparison_command(name: str, runs: str) -> list[str]:
  """The experiments.compare / bench.speed_compare command of a comparison record."""
  tool, args = COMPARISONS[name]
  return [sys.executable, "-m", f"experiments.{tool}", f"--name={name}",
          *(a.format(runs=runs) for a in args)]


def _run(command: list[str], dry: bool) -> None:
  from jaxgen.errors import UserError
  shown = ["python"] + command[1:] if command[0] == sys.executable else command
  print("$ " + " ".join(shown), flush=True)
  if dry:
    return
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  if subprocess.run(command, cwd=root).returncode:
    raise UserError(f"`{' '.join(command[1:])}` failed; fix it and rerun (finished trainings "
                    "and records are kept)")


def main(argv: list[str]) -> None:
  del argv
  from experiments import records
  from jaxgen.errors import UserError
  runs = os.path.abspath(_RUNS.value)
  try:
    if _ONLY.value and _ONLY.value not in RECORDS and _ONLY.value not in COMPARISONS:
      raise UserError(f"--only={_ONLY.value} names no record; records: "
                      f"{', '.join(sorted(RECORDS))}; comparisons: {', '.join(COMPARISONS)}")
    if _LIST.value:
      width = max(map(len, [*RECORDS, *COMPARISONS]))
      for name in sorted(RECORDS):
        trained = all(finished(runs, t) for t in trainings_for(RECORDS[name]))
        print(f"{name:<{width}}  {record_state(records.RESULTS_DIR, name):<18}  "
              f"workdir {'trained' if trained else 'absent or unfinished'}")
      for name in COMPARISONS:
        exists = os.path.exists(os.path.join(records.RESULTS_DIR, "comparisons", name + ".json"))
        print(f"{name:<{width}}  {'comparison' if exists else 'missing':<18}")
      return
    if not _DRY.value:
      records.check_publishable(records.RESULTS_DIR)
    wanted = [_ONLY.value] if _ONLY.value in RECORDS else ([] if _ONLY.value else list(RECORDS))
    failed = []
    for name in wanted:
      record = RECORDS[name]
      if record_state(records.RESULTS_DIR, name) == "current" and not _REDO.value:
        continue
      try:
        for training in trainings_for(record):
          if not finished(runs, training):
            _run(train_command(TRAININGS[training], runs), _DRY.value)
          elif not from_committed_code(runs, training) and not _DRY.value:
            raise UserError(f"{runs}/{training} was trained before provenance.json or from "
                            "uncommitted changes; move it aside to retrain it")
        _run(record_command(record, runs), _DRY.value)
      except UserError as e:  # the others go on: one failure loses nothing finished
        print(f"{name}: {e}", file=sys.stderr, flush=True)
        failed.append(name)
    comparisons = [_ONLY.value] if _ONLY.value in COMPARISONS else (
        [] if _ONLY.value else list(COMPARISONS))
    for name in comparisons:
      needs = COMPARISON_NEEDS.get(name, ())
      if all(finished(runs, t) for t in needs) or _DRY.value:
        try:
          _run(comparison_command(name, runs), _DRY.value)
        except UserError as e:
          print(f"{name}: {e}", file=sys.stderr, flush=True)
          failed.append(name)
      else:
        print(f"skipping {name}: it times trained models ({', '.join(needs)}) that are not "
              f"all in {runs}", flush=True)
    _run([sys.executable, "-m", "experiments.report", "--tables", "--update_readme"],
         _DRY.value)
    if failed:
      raise UserError(f"{len(failed)} record(s) not made: {', '.join(failed)} (reasons above)")
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  app.run(main)
