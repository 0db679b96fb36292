"""Scoring as sclite counts it: edit-distance alignment, error counts, reports, trn/ctm/stm files,
bootstrap significance. Pure Python and NumPy: no torch, and no other asr package."""
