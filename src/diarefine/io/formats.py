"""File-name conventions shared by the readers."""

#: Extensions recognised as audio when scanning folders or stripping file ids.
AUDIO_EXTENSIONS = (".wav", ".flac", ".sph", ".mp3", ".ogg", ".opus", ".m4a")
