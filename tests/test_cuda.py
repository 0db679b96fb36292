"""The CUDA paths: the same model gives the same outputs on GPU, trains with bf16 autocast, transcribes.

Skipped where there is no GPU (CI); run on a GPU machine with `python -m pytest tests/test_cuda.py`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asr.data.batching import Batch
from asr.nn.model import BiLSTMCTC, ModelConfig
from asr.nn.schedule import use_bf16
from asr.nn.train import compute_loss

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def _model() -> BiLSTMCTC:
    torch.manual_seed(0)
    return BiLSTMCTC(ModelConfig(hidden=32, layers=2, vocab_size=12, dropout=0.0)).eval()


def test_forward_matches_cpu():
    model = _model()
    x = torch.randn(3, 95, 80)
    lengths = torch.tensor([95, 60, 31])
    ref, ref_len = model(x, lengths)
    out, out_len = model.cuda()(x.cuda(), lengths.cuda())
    assert torch.equal(out_len.cpu(), ref_len)
    for i, n in enumerate(ref_len.tolist()):
        assert torch.allclose(out[i, :n].cpu(), ref[i, :n], atol=1e-4)


def test_bf16_training_step_decreases_the_loss():
    device = torch.device("cuda")
    assert use_bf16("auto", device) == torch.cuda.is_bf16_supported()
    assert not use_bf16("auto", torch.device("cpu"))
    model = _model().train().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    batch = Batch(["a", "b"], torch.randn(2, 120, 80, generator=gen), torch.tensor([120, 90]),
                  torch.tensor([[1, 2, 3, 4], [5, 6, 7, 0]]), torch.tensor([4, 3]))
    losses = []
    for _ in range(30):
        loss, ntok = compute_loss(model, batch, device, bf16=True)
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
        opt.zero_grad()
        (loss / ntok).backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]


def test_bf16_loss_is_the_fp32_loss_within_a_few_percent():
    """The recipe's CUDA default (bf16 autocast, CTC in fp32) computes the fp32 loss up to bf16 rounding."""
    device = torch.device("cuda")
    if not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    model = _model().to(device)
    gen = torch.Generator().manual_seed(1)
    batch = Batch(["a", "b", "c"], torch.randn(3, 150, 80, generator=gen), torch.tensor([150, 120, 90]),
                  torch.tensor([[1, 2, 3, 4, 5], [5, 6, 7, 0, 0], [8, 9, 0, 0, 0]]), torch.tensor([5, 3, 2]))
    with torch.no_grad():
        fp32, _ = compute_loss(model, batch, device, bf16=False)
        bf16, _ = compute_loss(model, batch, device, bf16=True)
    print(f"CTC loss fp32 {float(fp32):.4f}, bf16 autocast {float(bf16):.4f}")
    assert bf16.dtype == torch.float32
    assert abs(float(bf16) - float(fp32)) <= 0.03 * abs(float(fp32))


def test_transcribe_on_cuda_matches_cpu(digit_model_dir, digit_speaker):
    import asr

    rng = np.random.default_rng(4)
    spoken = [digit_speaker.random(rng) for _ in range(4)]
    on_cpu = asr.load_model(digit_model_dir, device="cpu").transcribe([(s.wave, 16000) for s in spoken])
    on_gpu = asr.load_model(digit_model_dir, device="cuda").transcribe([(s.wave, 16000) for s in spoken])
    assert [t.text for t in on_gpu] == [t.text for t in on_cpu]
    for a, b in zip(on_cpu, on_gpu):
        assert all(abs(x.start - y.start) <= 0.03 and abs(x.end - y.end) <= 0.03 for x, y in zip(a.words, b.words))
