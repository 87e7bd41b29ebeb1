"""A ready progress hook for notebooks and scripts (as pyannote's ``ProgressHook``):

    from diarefine.progress import ProgressHook

    with ProgressHook() as hook:
        out = pipeline("meeting.wav", hook=hook)

One bar per stage that reports progress (``progress/<stage>`` steps: segmentation,
embedding), shown by ``tqdm.auto`` (a widget in Jupyter, text elsewhere), and the other
steps named as they pass. It never keeps the artifacts it sees.
"""

from __future__ import annotations

from typing import Any


class ProgressHook:
    def __init__(self, file: Any = None, disable: bool = False) -> None:
        self.file, self.disable = file, disable
        self.bars: dict[str, Any] = {}
        self.steps: list[str] = []

    def __enter__(self) -> ProgressHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __call__(self, name: str, artifact: object) -> None:
        if not name.startswith("progress/"):
            self.steps.append(name)
            return
        stage = name.split("/", 1)[1]
        try:
            done, total = artifact  # type: ignore[misc]
        except (TypeError, ValueError):
            return
        bar = self.bars.get(stage)
        if bar is None:
            from tqdm.auto import tqdm

            bar = tqdm(total=int(total), desc=stage, unit="chunk", file=self.file,
                       disable=self.disable, leave=True)
            self.bars[stage] = bar
        if bar.total != total:
            bar.total = int(total)
        bar.update(int(done) - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()
