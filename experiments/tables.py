"""The results tables, made from the committed records alone: one markdown table per family
group, the paired comparisons and alternated speed runs, the sampler grids and guidance sweeps,
and the mosaic of sample grids. experiments/publish.py writes them where they are read.
"""

import os

from experiments.adherence import adherence_table
from experiments.evaluations import FIRST_STAGES
from experiments.guidance_sweeps import sweep_tables
from jaxgen.metrics.intervals import Z95  # numpy only: keeps --help fast

# Family -> the table it belongs to.
GROUPS = {"vae": "Autoencoders", "gan": "GANs", "ddpm": "Diffusion",
          "ncsn": "Diffusion", "ldm": "Diffusion", "diffae_latent": "Diffusion",
          "maskgit": "Code models",
          "maskgit_ar": "Code models", "paella": "Code models"}


def _fmt_nll(nll: dict | None) -> str:
  if not nll:
    return ""
  what = "-log p(x\\|y)" if nll["conditional"] else "-log p(x)"
  digits = 3 if nll["unit"] == "bits/dim" else 2
  return f"{what} {nll['value']:.{digits}f} ± {Z95 * nll['se']:.{digits}f} {nll['unit']}"


def fmt_accuracy(r: dict, key: str) -> str:
  """record[key] with its Wilson interval (record[key + "_ci95_low" / "_high"])."""
  return f"{r[key]:.3f} ({r[key + '_ci95_low']:.3f}-{r[key + '_ci95_high']:.3f})"


def _fmt_rate(per_s: float) -> str:
  return f"{per_s:,.0f}" if per_s >= 100 else f"{per_s:.3g}"


def fmt_minutes(seconds: float | None) -> str:
  """A training time in seconds under a minute, else in whole minutes; "" when unknown."""
  if seconds is None:
    return ""
  return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.0f} min"


def is_current(record: dict) -> bool:
  """Whether a record was scored by a pinned scorer (classifiers' records need no scorer)."""
  from jaxgen.metrics import pinned
  if record["family"] == "classifier":
    return True
  return record.get("scorer_digest") in {e["sha256"] for e in pinned.manifest().values()}


def markdown_tables(records: list[dict]) -> str:
  """The tables of the records scored by the pinned scorers, then those of older records in a
  section of their own (their scorer was retrained per machine: another scale); every number
  comes from a record."""
  from jaxgen.metrics import pinned
  current = [r for r in records if is_current(r)]
  older = [r for r in records if not is_current(r)]
  digests = ", ".join(f"{name} `{e['sha256'][:8]}`" for name, e in sorted(
      pinned.manifest().items()))
  out = [f"Scored by the pinned scorers ({digests}; sha256 prefixes of their parameters).", "",
         _tables(current, "")]
  if older:
    out += ["**Scored by an older scorer.** The records below were scored by a classifier "
            "retrained on each machine before the scorer was pinned: their FCDs and accuracies "
            "compare with nothing above, and with each other only where floor and ceiling "
            "match. They move up when rescored or retrained.", "", _tables(older, ", older scorer")]
  return "\n".join(out)


def _tables(records: list[dict], suffix: str) -> str:
  """One markdown table per family group of `records`; `suffix` follows each group's name."""
  out = []
  for group in dict.fromkeys(GROUPS.values()):
    rows = [r for r in records if GROUPS.get(r["family"]) == group]
    if not rows:
      continue
    out += [f"**{group}{suffix}** (test split; ± is a 95% interval: FCD bootstrap, accuracy Wilson, "
            "NLL 1.96 SE; smallest class: the smallest share of the samples the scorer gives one "
            "digit, 0.1 when balanced)", "",
            "| model | steps (train time) | sampler | n | FCD | floor | ceiling | "
            "smallest class | cond. accuracy | 2nd judge (MLP) | NLL | images/s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["name"]):
      acc = fmt_accuracy(r, "cond_accuracy") if "cond_accuracy" in r else ""
      judge2 = (fmt_accuracy(r, "judge2_cond_accuracy") if "judge2_cond_accuracy" in r
                else "")
      # Mode coverage, for the records made since it was measured.
      share = f"{r['min_class_share']:.3f}" if "min_class_share" in r else ""
      out.append(
          f"| {r['name']} | {r.get('train_steps', r['step'])} "
          f"({fmt_minutes(r.get('train_wall_s')) or 'time not logged'}) | {r['sampler']} | "
          f"{r['num_samples']} | {r['fcd']:.1f} ± {Z95 * r['fcd_sd']:.1f} | "
          f"{r['fcd_floor']:.1f} ± {Z95 * r['fcd_floor_sd']:.1f} | {r['fcd_ceiling']:.0f} | "
          f"{share} | {acc} | {judge2} | {_fmt_nll(r.get('nll'))} | "
          f"{_fmt_rate(r['images_per_s'])} |")
    out.append("")
    out += [f"- {r['name']} samples {r['speed_vs_pixel']['speedup']:.1f}x as fast as "
            f"pixel-space CFG DDPM at the same {r['speed_vs_pixel']['steps']} DDIM steps "
            f"(batch {r['speed_vs_pixel']['batch']}, w={r['speed_vs_pixel']['guidance_scale']:g}"
            f"; {_fmt_rate(r['speed_vs_pixel']['latent_images_per_s'])} against "
            f"{_fmt_rate(r['speed_vs_pixel']['pixel_images_per_s'])} images/s, timed "
            "alternately in one run)" for r in sorted(rows, key=lambda r: r["name"])
            if "speed_vs_pixel" in r]
    if any("speed_vs_pixel" in r for r in rows):
      out.append("")
    paired = paired_nll_differences(rows)
    if paired:
      out += paired + [""]
  out += sampler_grids(records, suffix)
  out += sweep_tables(records, suffix)
  out += adherence_table(records)
  decoding = sorted((r for r in records if "decoding" in r), key=lambda r: r["name"])
  if decoding:
    out += [f"**Decoding cost{suffix}** (the code models' records above; network calls made one after "
            "another; FLOPs per image as XLA counts them, guidance's second pass included; "
            "images/s: median of timed calls, compilation apart, each record timed in its own "
            "run under its own load: compare speeds only in a Speed table below, whose "
            "contenders were timed alternately in one run)", "",
            "| model | sampler | network calls | GFLOPs/image | images/s, batch 1 | "
            "images/s, batch 64 | FCD | cond. accuracy |", "|---|---|---|---|---|---|---|---|"]
    out += [f"| {r['name']} | {r['sampler']} | {r['decoding']['network_calls']} | "
            f"{r['decoding']['flops_per_image'] / 1e9:.3g} | "
            f"{_fmt_rate(r['decoding']['images_per_s_b1'])} | "
            f"{_fmt_rate(r['decoding']['images_per_s_b64'])} | "
            f"{r['fcd']:.1f} ± {Z95 * r['fcd_sd']:.1f} | "
            f"{fmt_accuracy(r, 'cond_accuracy')} |" for r in decoding]
    out.append("")
  translators = sorted((r for r in records if "ab_cond_accuracy" in r), key=lambda r: r["name"])
  if translators:
    out += [f"**Translators{suffix}** (test split, each domain translated whole; identity: the share "
            "of digits the target domain's judge reads as their own label, with its Wilson "
            "interval, by the CNN judge and by the MLP second judge, each with its accuracy on "
            "the target domain's real test digits; FCD to the target domain's test digits ± "
            "bootstrap 95%, its floor from held-out real digits of that domain, and the "
            "untranslated source's FCD)", "",
            "| model | steps (train time) | direction | n | identity kept (CNN judge; on real) | "
            "identity kept (MLP judge; on real) | FCD | floor | untranslated FCD |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in translators:
      for d, arrow in (("ab", "A->B"), ("ba", "B->A")):
        floor = (f"{r[d + '_fcd_floor']:.1f} ± {Z95 * r[d + '_fcd_floor_sd']:.1f}"
                 if d + "_fcd_floor" in r else "")
        judge2 = (f"{fmt_accuracy(r, d + '_judge2_cond_accuracy')}; "
                  f"{r[d + '_judge2_test_accuracy']:.3f}" if d + "_judge2_cond_accuracy" in r
                  else "")
        out.append(
            f"| {r['name']} | {r.get('train_steps', r['step'])} "
            f"({fmt_minutes(r.get('train_wall_s')) or 'time not logged'}) | {arrow} | "
            f"{r['num_' + d]} | {fmt_accuracy(r, d + '_cond_accuracy')}; "
            f"{r[d + '_classifier_test_accuracy']:.3f} | {judge2} | "
            f"{r[d + '_fcd']:.1f} ± {Z95 * r[d + '_fcd_sd']:.1f} | {floor} | "
            f"{r[d + '_fcd_untranslated']:.1f} |")
    out.append("")
  stages = sorted((r for r in records if r["family"] in FIRST_STAGES), key=lambda r: r["name"])
  if stages:
    out += [f"**Tokenizers and autoencoders{suffix}** (test split; per image over all test "
            "digits: PSNR and the distance between the scorer's features of reconstruction and "
            "original, ± 1.96 SE; recon FCD: reconstructions of the first half of test against "
            "the second half's statistics, which hold none of their originals, ± bootstrap 95%, "
            "with the floor of as many validation digits against the same half; the scorer's "
            "accuracy against the true labels with its Wilson interval; latent: codebook usage, "
            "the share of codes some test image uses, or the latent shape and its scale factor)",
            "", "| model | steps (train time) | PSNR (dB) | feature distance | n | recon FCD | "
            "floor | recon accuracy | latent |", "|---|---|---|---|---|---|---|---|---|"]
    out += [f"| {r['name']} | {r.get('train_steps', r['step'])} "
            f"({fmt_minutes(r.get('train_wall_s')) or 'time not logged'}) | "
            f"{r['psnr']:.2f} ± {Z95 * r['psnr_se']:.2f} | "
            + (f"{r['feature_distance']:.2f} ± {Z95 * r['feature_distance_se']:.2f}"
               if "feature_distance" in r else "") + f" | {r['num_scored']} | "
            f"{r['recon_fcd']:.1f} ± {Z95 * r['recon_fcd_sd']:.1f} | "
            f"{r['recon_fcd_floor']:.1f} ± {Z95 * r['recon_fcd_floor_sd']:.1f} | "
            f"{fmt_accuracy(r, 'recon_cond_accuracy')} | {_fmt_latent(r)} |" for r in stages]
    out.append("")
  diffaes = sorted((r for r in records if r["family"] == "diffae"), key=lambda r: r["name"])
  if diffaes:
    out += [f"**Diffusion autoencoders{suffix}** (first n test digits; PSNR of decode(z_sem, x_T), x_T "
            "by DDIM inversion, ± 1.96 SE; from z_sem alone: decoded from a random x_T, the "
            "label kept (Wilson interval) and FCD ± bootstrap 95% with its floor; edit sweep: "
            "mean ink mass at each step along the thickness direction, and the label kept)", "",
            "| model | steps (train time) | DDIM steps | n | PSNR (dB) | label kept from z_sem | "
            "FCD from z_sem | floor | edit sweep: ink mass (label kept) |",
            "|---|---|---|---|---|---|---|---|---|"]
    out += [f"| {r['name']} | {r.get('train_steps', r['step'])} "
            f"({fmt_minutes(r.get('train_wall_s')) or 'time not logged'}) | {r['ddim_steps']} | "
            f"{r['num_test']} | {r['inversion_psnr']:.2f} ± {Z95 * r['inversion_psnr_se']:.2f} | "
            f"{fmt_accuracy(r, 'from_code_cond_accuracy')} | "
            f"{r['from_code_fcd']:.1f} ± {Z95 * r['from_code_fcd_sd']:.1f} | "
            f"{r['from_code_fcd_floor']:.1f} ± {Z95 * r['from_code_fcd_floor_sd']:.1f} | "
            + ", ".join(f"{e['amount']:+g}: {e['ink_mass']:.3f} ({e['label_kept']:.2f})"
                        for e in r["edit_sweep"]) + " |" for r in diffaes]
    out.append("")
  classifiers = sorted((r for r in records if r["family"] == "classifier"), key=lambda r: r["name"])
  if classifiers:
    out += [f"**Classifiers{suffix}** (test split; accuracy with its 95% Wilson interval)", "",
            "| model | network | steps (train time) | n | accuracy |", "|---|---|---|---|---|"]
    out += [f"| {r['name']} | {r['model']} | {r.get('train_steps', r['step'])} "
            f"({fmt_minutes(r.get('train_wall_s')) or 'time not logged'}) | {r['num_test']} | "
            f"{r['accuracy']:.4f} ({r['accuracy_ci95_low']:.4f}-{r['accuracy_ci95_high']:.4f}) |"
            for r in classifiers]
    out.append("")
  return "\n".join(out)


def sampler_grids(records: list[dict], suffix: str) -> list[str]:
  """DDIM's Table 1 shape for each trained model sampled at several settings: FCD ± 95% by
  steps (rows) and DDIM eta or ancestral DDPM (columns), one spacing per table."""
  groups: dict[tuple[str, str], list[dict]] = {}
  for r in records:
    if "sampler_setting" in r:
      key = (os.path.basename(r["workdir"]), r["sampler_setting"]["spacing"])
      groups.setdefault(key, []).append(r)
  out = []
  for (training, spacing), rows in sorted(groups.items()):
    if len(rows) < 3:
      continue
    column = lambda s: "DDPM (ancestral)" if s["kind"] == "ddpm" else f"DDIM eta={s['eta']:g}"
    columns = sorted({column(r["sampler_setting"]) for r in rows},
                     key=lambda c: (c.startswith("DDPM"), c))
    cells = {(r["sampler_setting"]["steps"], column(r["sampler_setting"])): r for r in rows}
    n = sorted({r["num_samples"] for r in rows})
    out += [f"**Sampler grid: {training}{suffix}** (FCD ± 95% bootstrap on test, n = "
            f"{', '.join(map(str, n))}; {spacing} spacing of the kept timesteps; one trained "
            f"model, floor {rows[0]['fcd_floor']:.1f})", "",
            "| steps | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for steps in sorted({r["sampler_setting"]["steps"] for r in rows}):
      out.append(f"| {steps} | " + " | ".join(
          f"{cells[steps, c]['fcd']:.1f} ± {Z95 * cells[steps, c]['fcd_sd']:.1f}"
          if (steps, c) in cells else "" for c in columns) + " |")
    out.append("")
  return out


def speed_order(comparison: dict) -> list[str]:
  """A speed record's entries in the order given (records are written with sorted keys): the
  reference, the one the ratios divide by, first."""
  first_key = next(k for k in next(iter(comparison["entries"].values()))
                   if k.startswith("ratio_to_"))
  reference = first_key[len("ratio_to_"):].rsplit("_b", 1)[0]
  return comparison.get("order") or [reference] + sorted(
      n for n in comparison["entries"] if n != reference)


def _ratio(entry: dict, batch: int) -> tuple[str, float]:
  """(reference, ratio) of a speed record's entry at one batch size."""
  key = next(k for k in entry if k.startswith("ratio_to_") and k.endswith(f"_b{batch}"))
  return key[len("ratio_to_"):-len(f"_b{batch}")], entry[key]


def comparison_tables(comparisons: list[dict]) -> str:
  """The comparison records: each paired test's sentence, and each alternated speed record as
  a table (images/s per batch size and the ratio to its first entry)."""
  out = []
  paired = [c for c in comparisons if c.get("kind") == "comparison"]
  if paired:
    out += ["**Paired comparisons** (experiments/results/comparisons/; McNemar's exact test on "
            "the same images, per-image likelihood differences, FCD differences by a joint "
            "bootstrap of both sample sets and the reference; 95% intervals)", ""]
    out += [f"- {c['a']} against {c['b']}, {s}" for c in paired for s in c["sentences"]]
    out.append("")
  for c in (c for c in comparisons if c.get("kind") == "speed"):
    batches = c["batch_sizes"]
    names = speed_order(c)
    # Code models' work an image (calls in sequence, FLOPs) where the record has it.
    work = all("flops_per_image" in c["entries"][n] for n in names)
    refs = {n: _ratio(c["entries"][n], batches[0])[0] for n in names}
    out += [f"**Speed: {c['name']}** (images/s, median of {c['reps']} calls each, the "
            f"contenders called alternately in one run on {c['cpu_count']} cores, compilation "
            "apart; ratio to " + (names[0] if len(set(refs.values())) == 1 else
                                  "the row's reference: " + ", ".join(dict.fromkeys(
                                      refs.values())) + " for the rows from it on")
            + ("; network calls in sequence and GFLOPs an image as XLA counts them; training "
               "step of each run timed" if work else "") + ")", "",
            "| model | setting | " + ("step | calls | GFLOPs/image | " if work else "")
            + " | ".join(f"batch {b} | ratio" for b in batches) + " |",
            "|---|---|" + ("---|---|---|" if work else "") + "---|---|" * len(batches)]
    for name in names:
      e = c["entries"][name]
      cost = (f"{e['step']} | {e['network_calls']} | {e['flops_per_image'] / 1e9:.3g} | "
              if work else "")
      out.append(f"| {name} | {e['setting']} | {cost}" + " | ".join(
          f"{_fmt_rate(e[f'images_per_s_b{b}'])} | {_ratio(e, b)[1]:.2f}"
          for b in batches) + " |")
    out.append("")
  return "\n".join(out)


def _fmt_latent(record: dict) -> str:
  """The latent cell of a first stage's row."""
  if record["family"] == "vqvae":
    return f"codebook usage {record['codebook_usage']:.3f} of {record['num_codes']}"
  shape = "x".join(str(v) for v in record["latent_shape"])
  return f"{shape}, scale factor {record['scale_factor']:.3f}"


def paired_nll_differences(records: list[dict]) -> list[str]:
  """Markdown lines comparing the NLLs of every two records of one kind (unit, conditional or
  not, same test images) by the mean and 95% interval of their per-image differences: the
  same digits' difficulty cancels, so the interval is far narrower than either SE."""
  import numpy as np
  from jaxgen.metrics.compare import paired_difference
  with_values = sorted((r for r in records if r.get("nll", {}).get("per_image")),
                       key=lambda r: r["name"])
  lines = []
  for i, a in enumerate(with_values):
    for b in with_values[i + 1:]:
      na, nb = a["nll"], b["nll"]
      if (na["unit"], na["conditional"], na["images"]) != (nb["unit"], nb["conditional"],
                                                           nb["images"]):
        continue
      d = paired_difference(np.asarray(na["per_image"]), np.asarray(nb["per_image"]))
      lines.append(f"- NLL {a['name']} - {b['name']}: {d['difference']:+.3f} ± "
                   f"{Z95 * d['difference_se']:.3f} {na['unit']} (paired over the same "
                   f"{na['images']} test images)")
  return lines


def mosaic(records: list[dict], results_dir: str, path: str) -> None:
  """All records' grids side by side, four to a row, each captioned with its name."""
  import numpy as np
  from PIL import Image, ImageDraw
  tiles = []
  for r in sorted((r for r in records if r.get("grid")), key=lambda r: r["name"]):
    grid = Image.open(os.path.join(results_dir, r["grid"])).convert("RGB")
    tile = Image.new("RGB", (grid.width, grid.height + 14), "white")
    tile.paste(grid, (0, 14))
    ImageDraw.Draw(tile).text((2, 1), r["name"], fill="black")
    tiles.append(np.asarray(tile))
  if not tiles:
    return
  h, w = max(t.shape[0] for t in tiles), max(t.shape[1] for t in tiles)
  cols = min(4, len(tiles))
  canvas = np.full((-(-len(tiles) // cols) * (h + 4), cols * (w + 4), 3), 255, np.uint8)
  for i, t in enumerate(tiles):
    y, x = (i // cols) * (h + 4), (i % cols) * (w + 4)
    canvas[y:y + t.shape[0], x:x + t.shape[1]] = t
  Image.fromarray(canvas).save(path)
