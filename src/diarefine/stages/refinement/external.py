"""Refining any system's output: the `RefinementContext` of an RTTM's own turns.

For a diarization made elsewhere (pyannote, DiariZen, ...), the tracks a refiner reads
are computed from the audio with the pipeline's own models, the speakers being the
RTTM's: the segmentation runs on the recording; in each chunk, each local speaker is
given to the RTTM speaker it shares the most active frames with (one-to-one, none if it
shares none); the chunk embeddings so assigned give each RTTM speaker's centroid; the
activations are reconstructed and reassigned by the 1 s windows as in the pipeline.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from diarefine.core.annotation import Annotation
from diarefine.io.audio import SAMPLE_RATE
from diarefine.stages.base import ChunkScores, no_hook
from diarefine.stages.clustering.common import l2_normalize
from diarefine.stages.reassign import reassign
from diarefine.stages.reconstruction import reconstruct, speaker_count
from diarefine.stages.refinement.context import pipeline_context
from diarefine.stages.refinement.features import RefinementContext, acoustic_tracks


def _speaking(annotation: Annotation, speakers: list[str], times: NDArray[np.float64]
              ) -> NDArray[np.bool_]:
    """(len(times), S): whether each speaker has a turn at each time."""
    out = np.zeros((len(times), len(speakers)), dtype=bool)
    for k, speaker in enumerate(speakers):
        for turn in annotation.turns:
            if turn.speaker == speaker:
                out[:, k] |= (times >= turn.start) & (times < turn.end)
    return out


def assign_by_overlap(scores: ChunkScores, annotation: Annotation, speakers: list[str]
                      ) -> NDArray[np.int64]:
    """(num_chunks, local_speakers): the RTTM speaker (index into ``speakers``) each
    local speaker shares most active frames with, one-to-one per chunk, -1 for none."""
    num_chunks, num_frames, local = scores.data.shape
    assignment = np.full((num_chunks, local), -1, dtype=np.int64)
    active = scores.active
    centres = scores.frames.centers(num_frames)
    for c in range(num_chunks):
        talking = _speaking(annotation, speakers, c * scores.chunk_step + centres)
        overlap = active[c].T.astype(np.float64) @ talking  # (local, S)
        rows, cols = linear_sum_assignment(overlap, maximize=True)
        keep = overlap[rows, cols] > 0
        assignment[c, rows[keep]] = cols[keep]
    return assignment


def rttm_context(pipeline: object, waveform: NDArray[np.float32], annotation: Annotation
                 ) -> RefinementContext:
    """The context of ``annotation``'s speakers on ``waveform`` (16 kHz mono), with the
    models, reconstruction and reassignment of ``pipeline`` (a DiarizationPipeline)."""
    p = pipeline
    duration = len(waveform) / SAMPLE_RATE
    speakers = list(annotation.speakers)
    scores = p.segmenter(waveform, no_hook)  # type: ignore[attr-defined]
    features = p.embedder.features(waveform)  # type: ignore[attr-defined]
    acoustic = acoustic_tracks(features)
    counts, grid = speaker_count(scores, duration, None, **vars(p.reconstruction))  # type: ignore[attr-defined]
    config = p.reassignment  # type: ignore[attr-defined]
    pooler = (p.embedder.window_pooler(counts == 1, grid, len(features), config.window,  # type: ignore[attr-defined]
                                       config.hop, config.min_speech)
              if config.weight > 0 and p.embedder.config.mode == "trunk" else None)  # type: ignore[attr-defined]
    embeddings = p.embedder.embed(features, scores, no_hook, pooler)  # type: ignore[attr-defined]
    assignment = assign_by_overlap(scores, annotation, speakers)
    centroids = np.zeros((len(speakers), embeddings.data.shape[2]))
    for s in range(len(speakers)):
        mine = (assignment == s) & embeddings.present
        if mine.any():
            centroids[s] = l2_normalize(embeddings.data[mine]).mean(axis=0)
    frame_scores = reconstruct(scores, assignment, len(speakers), duration, None,
                               **vars(p.reconstruction))  # type: ignore[attr-defined]
    windows = pooler.result() if pooler is not None else None
    if windows is not None:
        frame_scores = reassign(frame_scores, windows, centroids, config)
    return pipeline_context(scores, frame_scores, windows, centroids, acoustic, speakers,
                            duration, p.reconstruction, config)  # type: ignore[attr-defined]
