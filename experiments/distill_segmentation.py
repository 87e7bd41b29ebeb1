"""Distil segmentation-3.0 into a shallower LSTM for the pipeline's segmentation stage.

    python experiments/distill_segmentation.py --data DIR [--layers 2] [--epochs 12]
                                               [--lr 1e-3] [--sim DIR ...] [--cache FILE]
                                               [--out FILE]

Student: the teacher with only its first ``--layers`` of 4 bidirectional LSTM layers
(`diarefine.models.segmentation.shallower`); its SincNet front end is the teacher's and
stays frozen, so training runs on the teacher's SincNet features, computed once. The
LSTM and the feed-forward/classifier layers are trained.

Training data, never a test file: 10 s chunks every 2.5 s (the pipeline's default step)
of simulated conversations of *training-split* LibriSpeech speakers
(``benchmarks/data/simtrain``, made by ``train_plda.py``; more with ``--sim``) and of the
AMI excerpts' training split. Targets: the teacher's powerset posteriors on the same
chunk. Loss: Kullback-Leibler divergence from the teacher's posteriors to the student's,
per frame (one-cycle learning rate). Validation: the same loss and the agreement of the
most likely class on chunks of the simulated *dev* set, printed every epoch.

Writes the student as safetensors (float16, architecture in the metadata) after every
epoch, by default to ``benchmarks/out/segmentation_student.safetensors``; the pipeline
uses it with ``[segmentation] model = "<that path>"``. Results: docs/speed.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import benchmarks_path  # noqa: F401  (puts benchmarks/ on sys.path)
import torch
from distill_campplus import recordings
from paths import GENERATED, REPO, add_data_argument

from diarefine.io.audio import load_audio
from diarefine.models.pretrained import load_segmentation, save_segmentation
from diarefine.models.segmentation import PyanNetSegmentation, shallower

BATCH = 16  # chunks per teacher forward pass


@torch.inference_mode()
def teacher_outputs(teacher: PyanNetSegmentation, files: list[Path], step: float
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """SincNet features (N, 60, 589) and powerset log-probabilities (N, 589, 7) of the
    teacher on every whole 10 s chunk, ``step`` seconds apart, of ``files``."""
    length, hop = 160000, int(round(step * 16000))
    features, targets = [], []
    for path in files:
        wave = torch.from_numpy(load_audio(path))
        count = 1 + (len(wave) - length) // hop if len(wave) >= length else 0
        for first in range(0, count, BATCH):
            n = min(BATCH, count - first)
            sinc = teacher.sincnet.sinc_of_chunks(wave[first * hop:], hop, n, length)
            features.append(teacher.sincnet.after_sinc(sinc))
            targets.append(teacher.from_sinc(sinc))
    return torch.cat(features), torch.cat(targets)


def divergence(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """KL(teacher || student) per frame, averaged; both are log-probabilities."""
    return (teacher.exp() * (teacher - student)).sum(dim=-1).mean()


@torch.inference_mode()
def validate(model: PyanNetSegmentation, features: torch.Tensor, targets: torch.Tensor
             ) -> tuple[float, float]:
    """Mean divergence and the fraction of frames where the most likely class agrees."""
    model.eval()
    out = torch.cat([model.from_features(features[i: i + 64])
                     for i in range(0, len(features), 64)])
    model.train()
    agree = (out.argmax(-1) == targets.argmax(-1)).float().mean()
    return float(divergence(out, targets)), float(agree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sim", type=Path, nargs="*",
                        default=[GENERATED / "simtrain"])
    parser.add_argument("--dev", type=Path, default=GENERATED / "simdev")
    add_data_argument(parser)
    parser.add_argument("--layers", type=int, default=2, help="LSTM layers kept (of 4)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--lr", type=float, default=1e-3, help="peak of the one-cycle schedule")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep the teacher's features and targets here (about 0.6 GB)")
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "out" / "segmentation_student.safetensors")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    teacher, _ = load_segmentation()
    t0 = time.perf_counter()
    if args.cache and args.cache.exists():
        train_x, train_y, dev_x, dev_y = torch.load(args.cache, weights_only=True)
    else:
        train_x, train_y = teacher_outputs(teacher, recordings(args.sim, "train", args.data), 2.5)
        dev_x, dev_y = teacher_outputs(teacher, recordings([args.dev], None), 10.0)
        if args.cache:
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            torch.save((train_x, train_y, dev_x, dev_y), args.cache)
    print(f"{len(train_x)} training chunks ({len(train_x) * 2.5 / 3600:.2f} h of audio "
          f"at a 2.5 s step), {len(dev_x)} dev chunks; teacher in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)

    student = shallower(teacher, args.layers).train()
    for p in student.sincnet.parameters():
        p.requires_grad_(False)
    trained = [p for p in student.parameters() if p.requires_grad]
    print(f"student: {args.layers} LSTM layers, {sum(p.numel() for p in trained):,} trained "
          f"parameters; dev divergence {validate(student, dev_x, dev_y)[0]:.4f}", flush=True)
    per_epoch = len(train_x) // args.batch
    optimizer = torch.optim.Adam(trained, lr=args.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * per_epoch, pct_start=0.1)
    for epoch in range(args.epochs):
        start, total = time.perf_counter(), 0.0
        order = torch.randperm(len(train_x))
        for b in range(per_epoch):
            rows = order[b * args.batch: (b + 1) * args.batch]
            loss = divergence(student.from_features(train_x[rows]), train_y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        dev_kl, agree = validate(student, dev_x, dev_y)
        print(f"epoch {epoch + 1}: train divergence {total / per_epoch:.4f}, dev divergence "
              f"{dev_kl:.4f}, dev class agreement {agree:.4f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        save_segmentation(student.eval(), args.out, {
            "teacher": "pyannote segmentation-3.0", "epochs": str(epoch + 1),
            "dev_divergence": f"{dev_kl:.4f}", "dev_agreement": f"{agree:.4f}"})
        student.train()


if __name__ == "__main__":
    main()
