"""asr: a small BiLSTM-CTC speech recognition toolkit with Kaldi-style recipes."""

__version__ = "0.1.0"
