"""Data: simulated conversations from single-speaker speech, and corpus manifests.

Importing this package stays light (numpy, scipy, soundfile): torch and Silero VAD are
imported only when speech regions are actually detected.
"""

from diarefine.data.manifest import Recording, read_manifest, write_manifest

__all__ = ["Recording", "read_manifest", "write_manifest"]
