"""Data: audio reading, Kaldi data dirs, filterbank features and their store, tokens, batches, SpecAugment.

The lowest package of the pipeline (above asr.config/asr.errors/asr.fileio); it imports no other asr package.
"""
