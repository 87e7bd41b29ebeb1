"""The diarization pipeline: injected stages composed, observable through a hook.

    pipeline = DiarizationPipeline.from_pretrained()          # models shipped with diarefine
    out = pipeline("meeting.wav", num_speakers=4)            # DiarizeOutput
    out.diarization, out.exclusive, out.speaker_embeddings

Audio that is empty, silent or shorter than ``MIN_DURATION`` gives an empty result and a
warning; unreadable audio raises :class:`~diarefine.errors.AudioError`.

``num_speakers`` / ``min_speakers`` / ``max_speakers`` constrain the clustering, and
``max_speakers`` also caps the number of simultaneous speakers. A cluster that never wins
a frame of the reconstruction is absent from the output, so the output can hold fewer
speakers than ``num_speakers`` (as pyannote 3.1's can).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from diarefine.config import PipelineConfig, ReassignmentConfig, ReconstructionConfig
from diarefine.core.annotation import Annotation, Turn
from diarefine.errors import AudioError, DiarefineWarning
from diarefine.io.audio import SAMPLE_RATE, load_audio
from diarefine.stages.base import (
    DiarizeOutput,
    FrameScores,
    Hook,
    SpeakerConstraints,
    no_hook,
)
from diarefine.stages.clustering import Clusterer, build_clusterer
from diarefine.stages.clustering.assign import assign_chunks
from diarefine.stages.embedding import Embedder
from diarefine.stages.postprocess import PostProcessor
from diarefine.stages.reassign import reassign
from diarefine.stages.reconstruction import reconstruct, speaker_count
from diarefine.stages.refinement.base import NoRefiner, Refiner
from diarefine.stages.refinement.context import pipeline_context
from diarefine.stages.refinement.features import acoustic_tracks
from diarefine.stages.segmentation import Segmenter, resolve_backend

MIN_DURATION = 0.5  # seconds; shorter recordings are not diarized
SILENCE_PEAK = 1e-4  # a recording whose peak amplitude is below this is silent


@dataclass
class DiarizationPipeline:
    segmenter: Segmenter
    embedder: Embedder
    clusterer: Clusterer
    postprocessor: PostProcessor = field(default_factory=PostProcessor)
    reconstruction: ReconstructionConfig = field(default_factory=ReconstructionConfig)
    reassignment: ReassignmentConfig = field(default_factory=ReassignmentConfig)
    refiner: Refiner = field(default_factory=NoRefiner)

    @classmethod
    def from_pretrained(cls, config: PipelineConfig | str | Path | Mapping[str, Any] | None
                        = None, device: str = "cpu") -> DiarizationPipeline:
        """The segmentation model and CAM++ that ``config.segmentation.model`` and
        ``config.embedding.model`` name (by default both shipped with diarefine), stages
        configured by ``config``: a `PipelineConfig`, the path of a TOML file, or a dict
        of its sections."""
        from diarefine.models import openvino_backend
        from diarefine.models.pretrained import load_embedding_model, load_segmentation_model
        from diarefine.stages.refinement import build_refiner

        if isinstance(config, (str, Path)):
            config = PipelineConfig.from_toml(config)
        elif isinstance(config, Mapping):
            config = PipelineConfig.from_dict(dict(config))
        config = config or PipelineConfig()
        check_device(device)
        # a bad backend value fails here, not at the first file
        resolve_backend(config.segmentation.backend, device)
        openvino_backend.resolve(config.embedding.backend, device)
        seg_model, seg_info = load_segmentation_model(config.segmentation.model, device=device)
        emb_model, emb_info = load_embedding_model(config.embedding.model, device=device)
        return cls(
            Segmenter(seg_model, seg_info, config.segmentation.step,
                      config.segmentation.batch_size, device, config.segmentation.decoding,
                      config.segmentation.threshold, config.segmentation.backend),
            Embedder(emb_model, emb_info, config.embedding, device),
            build_clusterer(config.clustering.method, **config.clustering.params),
            PostProcessor(**vars(config.postprocess)),
            config.reconstruction,
            config.reassignment,
            build_refiner(config.refiner.name, config.refiner.abstain),
        )

    def __call__(
        self,
        audio: str | Path | NDArray[np.float32] | Mapping[str, Any],
        uri: str | None = None,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        hook: Hook = no_hook,
    ) -> DiarizeOutput:
        """Diarize a file, 16 kHz mono float32 samples (num_samples,), or, as pyannote
        takes it, ``{"waveform": (channel, time) array or tensor, "sample_rate": sr}`` at
        any rate (channels averaged, resampled to 16 kHz; an optional ``"uri"``)."""
        constraints = SpeakerConstraints(num_speakers, min_speakers or 1, max_speakers)
        if isinstance(audio, Mapping):
            return self._diarize(from_mapping(audio), uri or str(audio.get("uri", "audio")),
                                 constraints, hook)
        if isinstance(audio, (str, Path)):
            # no name here keeps the samples: _diarize frees them once they are analysed
            return self._diarize(load_audio(audio, SAMPLE_RATE), uri or Path(audio).stem,
                                 constraints, hook)
        waveform = np.asarray(audio, dtype=np.float32)
        if waveform.ndim != 1:
            raise ValueError(f"expected mono 16 kHz samples of shape (num_samples,), got "
                             f"{waveform.shape}; average the channels first")
        return self._diarize(waveform, uri or "audio", constraints, hook)

    def _diarize(self, waveform: NDArray[np.float32], uri: str,
                 constraints: SpeakerConstraints, hook: Hook) -> DiarizeOutput:
        duration = len(waveform) / SAMPLE_RATE
        reason = _unusable(waveform, duration)
        if reason:
            warnings.warn(f"{uri}: {reason}; empty diarization", DiarefineWarning, stacklevel=3)
            return DiarizeOutput(Annotation(uri), Annotation(uri), {}, duration)
        scores = self.segmenter(waveform, hook)
        features = self.embedder.features(waveform)
        acoustic = acoustic_tracks(features) if self.refiner.needs_context else None
        # the embeddings need only the features (half the size of the samples): a file's
        # samples, referenced from here alone, are freed before the CAM++ trunk runs
        del waveform
        pooler = None
        if self.reassignment.weight > 0 and self.embedder.config.mode == "trunk":
            # short windows where one speaker talks, pooled from the same trunk pass
            counts, grid = speaker_count(scores, duration, constraints.max_speakers,
                                         **vars(self.reconstruction))
            pooler = self.embedder.window_pooler(
                counts == 1, grid, len(features), self.reassignment.window,
                self.reassignment.hop, self.reassignment.min_speech)
        embeddings = self.embedder.embed(features, scores, hook, pooler)
        labels = self.clusterer(embeddings.data[embeddings.reliable], constraints)
        if len(labels) == 0 and embeddings.present.any():
            # nothing long enough to cluster: one speaker per recording is the best guess
            reliable = embeddings.present
            embeddings = type(embeddings)(embeddings.data, embeddings.present, reliable)
            labels = np.zeros(int(reliable.sum()), dtype=np.int64)
        hook("clustering", labels)
        _check_count(uri, labels, constraints)
        assignment, centroids = assign_chunks(embeddings, labels)
        hook("assignment", assignment)
        frame_scores = reconstruct(scores, assignment, len(centroids), duration,
                                   constraints.max_speakers, **vars(self.reconstruction))
        hook("reconstruction", frame_scores)
        windows = None
        if pooler is not None:
            windows = pooler.result()
            hook("windows", windows)
            frame_scores = reassign(frame_scores, windows, centroids, self.reassignment)
            hook("reassignment", frame_scores)
        names = [f"SPEAKER_{k:02d}" for k in range(len(centroids))]
        diarization, exclusive = self.postprocessor(frame_scores, uri, names)
        diarization, exclusive = _clip(diarization, duration), _clip(exclusive, duration)
        if not isinstance(self.refiner, NoRefiner):
            hook("postprocess", diarization)
            context = None
            if acoustic is not None:
                context = pipeline_context(scores, frame_scores, windows, centroids, acoustic,
                                           names, duration, self.reconstruction,
                                           self.reassignment)
                hook("refinement/context", context)
            diarization = _clip(self.refiner(diarization, context), duration)
            exclusive = exclusive_of(diarization, frame_scores, names)
        hook("diarization", diarization)
        speaking = set(diarization.speakers)
        embeddings_out = {n: centroids[k].astype(np.float32) for k, n in enumerate(names)
                          if n in speaking}
        return DiarizeOutput(diarization, exclusive, embeddings_out, duration,
                             turn_confidence(diarization, frame_scores, names))


def exclusive_of(diarization: Annotation, scores: FrameScores, names: list[str]
                 ) -> Annotation:
    """One speaker at a time: where turns overlap, the speaker most active there (mean
    activation over the frames of that stretch) keeps it. Exact in time (no frames); one
    sweep over the turns' edges."""
    events = sorted([(t.start, 1, t.speaker) for t in diarization.turns]
                    + [(t.end, -1, t.speaker) for t in diarization.turns])
    column = {n: k for k, n in enumerate(names)}
    centres = scores.frames.centers(len(scores.data))
    active: dict[str, int] = {}
    pieces: list[Turn] = []
    for k, (t, delta, speaker) in enumerate(events):
        active[speaker] = active.get(speaker, 0) + delta
        end = events[k + 1][0] if k + 1 < len(events) else t
        talking = [s for s, n in active.items() if n > 0]
        if end <= t or not talking:
            continue
        if len(talking) > 1 and len(scores.data):
            inside = (centres >= t) & (centres < end)
            rows = scores.data[inside] if inside.any() else scores.data[
                [min(int(np.searchsorted(centres, (t + end) / 2)), len(centres) - 1)]]
            talking.sort(key=lambda s: -float(rows[:, column[s]].mean())
                         if s in column else 0.0)
        who = talking[0]
        if pieces and pieces[-1].speaker == who and abs(pieces[-1].end - t) < 1e-9:
            pieces[-1] = Turn(pieces[-1].start, end, who)
        else:
            pieces.append(Turn(t, end, who))
    return diarization.with_turns(pieces)


def turn_confidence(diarization: Annotation, scores: FrameScores, names: list[str]
                    ) -> tuple[float, ...]:
    """Each turn's mean activation of its speaker over the frames whose centres fall in
    it (the nearest frame for a turn shorter than one), in [0, 1]."""
    centres = scores.frames.centers(len(scores.data))
    column = {n: k for k, n in enumerate(names)}
    out = []
    for t in diarization.turns:
        if t.speaker not in column or not len(centres):
            out.append(0.0)
            continue
        lo, hi = np.searchsorted(centres, [t.start, t.end])
        if hi <= lo:
            lo = min(int(np.searchsorted(centres, (t.start + t.end) / 2)), len(centres) - 1)
            hi = lo + 1
        value = float(scores.data[lo:hi, column[t.speaker]].mean())
        out.append(round(min(max(value, 0.0), 1.0), 4))
    return tuple(out)


def from_mapping(audio: Mapping[str, Any]) -> NDArray[np.float32]:
    """16 kHz mono float32 samples of ``{"waveform": (channel, time), "sample_rate": sr}``
    (a numpy array or a torch tensor; a 1-D waveform is one channel)."""
    import math

    from scipy.signal import resample_poly

    missing = [k for k in ("waveform", "sample_rate") if k not in audio]
    if missing:
        raise ValueError(f"an audio mapping needs 'waveform' and 'sample_rate'; missing {missing}")
    waveform = audio["waveform"]
    if hasattr(waveform, "detach"):  # a torch tensor
        waveform = waveform.detach().cpu().numpy()
    data = np.asarray(waveform, dtype=np.float64)
    rate = audio["sample_rate"]
    if not isinstance(rate, (int, np.integer)) or isinstance(rate, bool) or rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer, got {rate!r}")
    if data.ndim == 1:
        data = data[None, :]
    if data.ndim != 2:
        raise ValueError(f"waveform must be (channel, time), got shape {data.shape}")
    if not np.isfinite(data).all():
        raise AudioError("waveform contains NaN or infinite samples")
    mono = data.mean(axis=0)
    g = math.gcd(SAMPLE_RATE, int(rate))
    if int(rate) != SAMPLE_RATE:
        mono = resample_poly(mono, SAMPLE_RATE // g, int(rate) // g)
    return mono.astype(np.float32)


def _check_count(uri: str, labels: NDArray[np.int64], constraints: SpeakerConstraints
                 ) -> None:
    """Say so when the recording cannot hold the number of speakers asked for (the
    clustering caps it at the number of speaker segments it has)."""
    found = int(labels.max()) + 1 if len(labels) else 0
    if found < constraints.min_speakers:
        asked = (f"--num-speakers {constraints.num_speakers}" if constraints.num_speakers
                 else f"--min-speakers {constraints.min_speakers}")
        warnings.warn(f"{uri}: {asked} asked, but the recording has only {len(labels)} "
                      f"speaker segments long enough to embed, so at most {found} speakers",
                      DiarefineWarning, stacklevel=3)


def _unusable(waveform: NDArray[np.float32], duration: float) -> str | None:
    if len(waveform) == 0:
        return "empty audio"
    if duration < MIN_DURATION:
        return f"audio shorter than {MIN_DURATION} s ({duration:.3f} s)"
    if max(float(waveform.max()), -float(waveform.min())) < SILENCE_PEAK:  # no |x| copy
        return "silent audio"
    return None


def _clip(annotation: Annotation, duration: float) -> Annotation:
    """Turns cut at the end of the recording (the last chunk is zero-padded)."""
    turns = [t for t in annotation.turns if t.start < duration]
    return annotation.with_turns(
        type(t)(t.start, min(t.end, duration), t.speaker) for t in turns)


def check_device(device: str) -> None:
    """Refuse a device that cannot be used, with a one-line reason."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', not {device!r}")
