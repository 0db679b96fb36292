"""The acoustic model (BiLSTM-CTC), its training loop, checkpoints and the model directory."""
