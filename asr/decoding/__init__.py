"""CTC decoding: one Hypothesis type, one Decoder interface (greedy, prefix beam, flashlight LM),
word LMs and lexicons, and the one batched emissions -> hypotheses loop (asr.decoding.loop).

Decoders know nothing about model classes or model directories: the loop takes any module that
maps padded features [N, T, D] and lengths [N] to log-probabilities [N, T', V] and lengths [N]."""
