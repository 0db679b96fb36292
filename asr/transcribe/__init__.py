"""Transcription of audio files: the recognizer loaded from a model directory, the long-audio
pipeline (inputs, chunking at pauses, batching), word timings, output formats and export."""
