"""A picklable pipeline runner for batches (built once per worker process)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from diarefine.config import PipelineConfig
from diarefine.stages.base import DiarizeOutput, Hook, no_hook


@dataclass
class PipelineRunner:
    config: PipelineConfig = field(default_factory=PipelineConfig)
    device: str = "cpu"
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None
    hook: Hook = no_hook

    def __post_init__(self) -> None:
        from diarefine.stages.pipeline import DiarizationPipeline

        self.pipeline = DiarizationPipeline.from_pretrained(self.config, self.device)

    def __call__(self, uri: str, audio: Path) -> DiarizeOutput:
        return self.pipeline(audio, uri=uri, num_speakers=self.num_speakers,
                             min_speakers=self.min_speakers, max_speakers=self.max_speakers,
                             hook=self.hook)
