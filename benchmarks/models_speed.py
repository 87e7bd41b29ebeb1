"""CPU timings of segmentation and CAM++ embeddings, and how good trunk sharing is.

Usage::

    python benchmarks/models_speed.py --data DIR [--threads 2] [--quality]

Timings (``torch.set_num_threads(threads)``) on 60 s of real audio (AMI excerpts trn00 and
trn01 back to back), cut in 10 s chunks every 1 s (51 chunks):

1. segmentation of the 51 chunks (batched);
2. CAM++ embeddings of the 51 x 3 (chunk, local speaker) masks, two ways:
   *per chunk*: fbank (mean-normalized per chunk) and trunk of every chunk, masked pooling;
   *whole recording*: fbank (mean-normalized over the recording) and trunk once, then
   masked pooling of every (chunk, speaker) mask placed at the chunk's position.

``--quality`` measures, on every AMI excerpt and the pyannote sample, the cosine similarity
between the two ways' embeddings of the same (chunk, speaker), and how well each separates
speakers (same- vs different-speaker cosine AUC, labels from the reference RTTMs).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from paths import add_data_argument, data_folder

from diarefine.core import Annotation
from diarefine.features import FBANK_GRID, compute_fbank, resample_frame_weights, subtract_mean
from diarefine.io.rttm import load_rttms
from diarefine.models import CAMPPlus, PyanNetSegmentation, load_campplus, load_segmentation
from diarefine.models.campplus import fbank_to_trunk_weights
from diarefine.models.pretrained import SegmentationInfo
from diarefine.models.segmentation import powerset_to_multilabel

SR, WINDOW, STEP = 16000, 160000, 16000
HOP = 160  # fbank samples per frame
MIN_ACTIVE = 0.5  # seconds of speech for a (chunk, speaker) mask to count
REPEAT = 3  # timed runs after the warm-up; the best is kept


def read(path: Path) -> np.ndarray:
    x, sr = sf.read(path, dtype="float32")
    assert sr == SR and x.ndim == 1, path
    return x


def chunk_starts(num_samples: int) -> list[int]:
    return list(range(0, max(num_samples - WINDOW, 0) + 1, STEP))


def timed(fn: Callable[[], object], repeat: int) -> tuple[str, float, object]:
    """Best of ``repeat`` runs after a warm-up: a wall/CPU description, the wall time, the result.

    CPU time is this process's (all threads); it is less disturbed than wall time when
    other work shares the cores.
    """
    result = fn()
    best, cpu = float("inf"), float("inf")
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        best, cpu = min(best, time.perf_counter() - w0), min(cpu, time.process_time() - c0)
    return f"{best:6.2f} s wall {cpu:6.2f} s CPU", best, result


def segment(model: PyanNetSegmentation, chunks: np.ndarray, batch: int = 8) -> torch.Tensor:
    """(B, N) -> (B, 589, 7) log-probabilities."""
    outs = []
    with torch.inference_mode():
        for i in range(0, len(chunks), batch):
            outs.append(model(torch.from_numpy(chunks[i: i + batch])[:, None]))
    return torch.cat(outs)


def fbank_masks(log_probs: torch.Tensor, info: SegmentationInfo) -> np.ndarray:
    """Hard speaker activity on the chunk's fbank frames. (B, 589, 7) -> (B, 3, 998)."""
    active = powerset_to_multilabel(log_probs).transpose(1, 2).numpy()
    num = 1 + (WINDOW - 400) // HOP
    return resample_frame_weights(active, info.frame_grid, FBANK_GRID, num)


def pool_masks(cam: CAMPPlus, trunks: torch.Tensor, masks: np.ndarray) -> torch.Tensor:
    """Pool each chunk's trunk with its speakers' masks. (B, C, T'), (B, S, T) -> (B, S, D)."""
    b, s, _ = masks.shape
    weights = fbank_to_trunk_weights(torch.from_numpy(masks).reshape(b * s, -1))
    with torch.inference_mode():
        emb = cam.pool(trunks.repeat_interleave(s, dim=0), weights)
    return emb.reshape(b, s, -1)


def per_chunk(cam: CAMPPlus, x: np.ndarray, starts: list[int], masks: np.ndarray,
              batch: int = 4) -> torch.Tensor:
    """Fbank + trunk of every chunk, then masked pooling. -> (B, 3, 192).

    The fbank of a chunk starting on a multiple of 160 samples is exactly a slice of the
    recording's (frames are independent), so it is computed once, then mean-normalized
    per chunk.
    """
    raw = compute_fbank(x, mean_normalize=False)
    num = masks.shape[-1]
    feats = np.stack([subtract_mean(raw[s // HOP: s // HOP + num]) for s in starts])
    trunks = []
    with torch.inference_mode():
        for i in range(0, len(feats), batch):
            trunks.append(cam.trunk(torch.from_numpy(feats[i: i + batch])))
    return pool_masks(cam, torch.cat(trunks), masks)


def whole_recording(cam: CAMPPlus, x: np.ndarray, starts: list[int], masks: np.ndarray,
                    window: int | None = None, margin: int = 200) -> torch.Tensor:
    """Fbank + trunk of the whole recording once, then masked pooling. -> (B, 3, 192).

    ``window`` (fbank frames): compute the trunk with `CAMPPlus.trunk_windowed` instead.
    """
    feats = torch.from_numpy(compute_fbank(x))[None]
    with torch.inference_mode():
        if window is None:
            trunk = cam.trunk(feats)[0]
        else:
            trunk = cam.trunk_windowed(feats, window, margin)[0]
    b, s, _ = masks.shape
    weights = fbank_to_trunk_weights(torch.from_numpy(masks).reshape(b * s, -1))
    offsets = torch.tensor([start // HOP // 2 for start in starts]).repeat_interleave(s)
    with torch.inference_mode():  # chunk starts are multiples of 2 fbank frames
        return cam.pool_at(trunk, offsets, weights).reshape(b, s, -1)


def benchmark(data: Path, threads: int, repeat: int) -> None:
    torch.set_num_threads(threads)
    parts = ("tst00", "trn09")  # the two excerpts with the most speech
    x = np.concatenate([read(data / "ami-excerpts" / f"{p}.wav")[: 30 * SR] for p in parts])
    starts = chunk_starts(len(x))
    chunks = np.stack([x[s: s + WINDOW] for s in starts])
    seg, info = load_segmentation()
    cam, _ = load_campplus()
    print(f"audio {len(x) / SR:.0f} s, {len(starts)} chunks of 10 s every 1 s, "
          f"{torch.get_num_threads()} threads")
    desc, t_seg, log_probs = timed(lambda: segment(seg, chunks), repeat)
    masks = fbank_masks(log_probs, info)  # type: ignore[arg-type]
    print(f"segmentation            {desc}  ({1000 * t_seg / len(starts):.0f} ms/chunk wall)")
    fb1, _, _ = timed(lambda: [compute_fbank(c) for c in chunks], repeat)
    fb2, _, _ = timed(lambda: compute_fbank(x), repeat)
    print(f"fbank chunk by chunk    {fb1}\nfbank of the recording  {fb2}")
    desc, t_pc, emb_pc = timed(lambda: per_chunk(cam, x, starts, masks), repeat)
    print(f"CAM++ per chunk         {desc}  (fbank sliced from the recording's; "
          f"{len(starts) * 3} masks)")
    desc, t_wr, emb_wr = timed(lambda: whole_recording(cam, x, starts, masks), repeat)
    print(f"CAM++ whole recording   {desc}  (fbank included)")
    desc, t_wd, emb_wd = timed(lambda: whole_recording(cam, x, starts, masks, window=1000), repeat)
    print(f"CAM++ windowed 10+2x2 s {desc}")
    print(f"wall speed-up vs per chunk: whole {t_pc / t_wr:.1f} x, windowed {t_pc / t_wd:.1f} x")
    for name, emb in (("whole", emb_wr), ("windowed", emb_wd)):
        cos = cosine_pairs(emb_pc, emb, masks)  # type: ignore[arg-type]
        print(f"cosine(per chunk, {name}) on these two concatenated meetings: "
              f"median {np.median(cos):.3f}, min {cos.min():.3f} ({len(cos)} masks)")


def cosine_pairs(a: torch.Tensor, b: torch.Tensor, masks: np.ndarray) -> np.ndarray:
    """Cosine of matching embeddings of masks with enough speech. -> (K,)."""
    keep = torch.from_numpy(masks.sum(-1) * HOP / SR >= MIN_ACTIVE)
    return torch.nn.functional.cosine_similarity(a[keep], b[keep], dim=-1).numpy()


def reference_labels(ann: Annotation, starts: list[int], masks: np.ndarray) -> np.ndarray:
    """Reference speaker index of each (chunk, speaker) mask, -1 when under 80 % pure.

    Shape: (B, S, T) -> (B, S).
    """
    cols = ann.arrays()
    num = masks.shape[-1]
    labels = np.full(masks.shape[:2], -1)
    for c, s in enumerate(starts):
        t = s / SR + FBANK_GRID.centers(num)  # (T,)
        inside = (t[None] >= cols.starts[:, None]) & (t[None] < cols.ends[:, None])
        act = np.zeros((len(cols.speakers), num), dtype=np.float32)
        np.maximum.at(act, cols.speaker_index, inside.astype(np.float32))
        overlap = masks[c] @ act.T  # (S, R)
        active = masks[c].sum(-1)
        best = overlap.argmax(-1)
        pure = (active > 0) & (overlap[np.arange(len(best)), best] >= 0.8 * active)
        labels[c] = np.where(pure, best, -1)
    return labels


def auc(same: np.ndarray, diff: np.ndarray) -> float:
    """Probability that a same-speaker pair scores above a different-speaker pair."""
    scores = np.concatenate([same, diff])
    ranks = scores.argsort().argsort() + 1.0
    return float((ranks[: len(same)].sum() - len(same) * (len(same) + 1) / 2)
                 / (len(same) * len(diff)))


def verification(emb: torch.Tensor, labels: np.ndarray,
                 ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosines of same- and different-speaker pairs among the ``ok`` masks."""
    e = torch.nn.functional.normalize(emb[torch.from_numpy(ok)], dim=-1).numpy()
    lab = labels[ok]
    sim = e @ e.T
    iu = np.triu_indices(len(lab), 1)
    same = lab[iu[0]] == lab[iu[1]]
    return sim[iu][same], sim[iu][~same]


VARIANTS = {"whole": None, "windowed": 1000}  # windowed: 10 s windows, 2 s margins


def file_quality(seg: PyanNetSegmentation, info: SegmentationInfo, cam: CAMPPlus,
                 x: np.ndarray, ann: Annotation) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Cosines to per-chunk embeddings per variant, and same/different-speaker AUC per way."""
    starts = chunk_starts(len(x))
    masks = fbank_masks(segment(seg, np.stack([x[s: s + WINDOW] for s in starts])), info)
    embs = {"per chunk": per_chunk(cam, x, starts, masks)}
    for name, window in VARIANTS.items():
        embs[name] = whole_recording(cam, x, starts, masks, window=window)
    cosines = {n: cosine_pairs(embs["per chunk"], embs[n], masks) for n in VARIANTS}
    labels = reference_labels(ann, starts, masks)
    ok = (labels >= 0) & (masks.sum(-1) * HOP / SR >= MIN_ACTIVE)
    aucs = {}
    if len(set(labels[ok].tolist())) > 1:
        aucs = {n: auc(*verification(e, labels, ok)) for n, e in embs.items()}
    return cosines, aucs


def quality(data: Path, threads: int) -> None:
    torch.set_num_threads(threads)
    seg, info = load_segmentation()
    cam, _ = load_campplus()
    refs = dict(load_rttms(data / "pyannote-sample" / "sample.rttm"))
    for split in ("train", "development", "test"):
        refs.update(load_rttms(data / "ami-excerpts" / f"debug.{split}.rttm"))
    all_cos: dict[str, list[np.ndarray]] = {n: [] for n in VARIANTS}
    all_auc: dict[str, list[float]] = {}
    for uri, ann in sorted(refs.items()):
        name = uri.replace("\u00f1", "n")  # AMI's trñ00 is stored as trn00.wav
        folder = "pyannote-sample" if name == "sample" else "ami-excerpts"
        cosines, aucs = file_quality(seg, info, cam, read(data / folder / f"{name}.wav"), ann)
        line = f"{name:8s} masks {len(cosines['whole']):3d}"
        for n, c in cosines.items():
            all_cos[n].append(c)
            if len(c):
                line += f"  cos {n} median {np.median(c):.3f} min {c.min():.3f}"
        for n, value in aucs.items():
            all_auc.setdefault(n, []).append(value)
        if aucs:
            line += "  AUC " + " ".join(f"{n} {v:.3f}" for n, v in aucs.items())
        print(line)
    for n, parts in all_cos.items():
        c = np.concatenate(parts)
        p5, p50 = np.quantile(c, [0.05, 0.5])
        print(f"cos(per chunk, {n}) over {len(c)} masks: mean {c.mean():.3f} "
              f"median {p50:.3f} p5 {p5:.3f} min {c.min():.3f}")
    for n, values in all_auc.items():
        print(f"same/different-speaker AUC, {n}: mean {np.mean(values):.3f} "
              f"over {len(values)} files")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_argument(parser)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="timed runs (best kept)")
    args = parser.parse_args()
    args.data = data_folder(args.data, "ami-excerpts", *(("pyannote-sample",) if args.quality
                                                         else ()))
    benchmark(args.data, args.threads, args.repeat)
    if args.quality:
        quality(args.data, args.threads)


if __name__ == "__main__":
    main()
