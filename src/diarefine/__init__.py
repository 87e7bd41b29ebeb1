"""diarefine: speaker diarization with honest boundary measurement.

Importing the package (core types, RTTM/UEM I/O, metrics) never imports torch.
"""

from diarefine.core import Annotation, Segment, Timeline, Turn

__version__ = "0.1.0"
__all__ = ["Annotation", "Segment", "Timeline", "Turn", "__version__"]
