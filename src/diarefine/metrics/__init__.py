"""Metrics on numpy alone: DER (md-eval-22), JER, B3, MI, NMI, and their regions."""

from diarefine.metrics.der import DerComponents, DerResult, diarization_error
from diarefine.metrics.score import (
    METRIC_KEYS,
    FileScore,
    ScoreReport,
    Scores,
    ScoreSettings,
    score_corpus,
    score_file,
)

__all__ = [
    "METRIC_KEYS", "DerComponents", "DerResult", "FileScore", "ScoreReport", "ScoreSettings",
    "Scores", "diarization_error", "score_corpus", "score_file",
]
