"""Tests for asr/nn/model.py: shapes, normalisation, padding behaviour, projection and frame stacking."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from asr.nn.model import (
    BiLSTMCTC,
    GlobalCMVN,
    ModelConfig,
    reverse_padded,
    stack_frames,
    utterance_mean_normalised,
)


def _model(**kw) -> BiLSTMCTC:
    torch.manual_seed(0)
    cfg = dict(input_dim=4, stack=3, hidden=5, layers=2, dropout=0.0, vocab_size=7)
    cfg.update(kw)
    return BiLSTMCTC(ModelConfig(**cfg)).eval()


def test_output_shapes_and_lengths():
    model = _model()
    lengths = torch.tensor([10, 7, 1, 9])
    log_probs, out_lengths = model(torch.randn(4, 10, 4), lengths)
    assert log_probs.shape == (4, math.ceil(10 / 3), 7)
    assert out_lengths.tolist() == [math.ceil(n / 3) for n in lengths.tolist()] == [4, 3, 1, 3]


def test_log_probs_are_normalised():
    log_probs, _ = _model()(torch.randn(2, 8, 4) * 5, torch.tensor([8, 5]))
    assert torch.all(log_probs <= 0)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(2, 3))


def test_vocab_size_must_be_set():
    with pytest.raises(ValueError, match="vocab_size"):
        BiLSTMCTC(ModelConfig(input_dim=4, vocab_size=0))


def test_padding_content_does_not_matter():
    # Whatever lies beyond an utterance's length (zeros, noise) gives the same outputs.
    model = _model()
    x = torch.randn(2, 9, 4)
    lengths = torch.tensor([9, 5])
    noisy = x.clone()
    noisy[1, 5:] = torch.randn(4, 4) * 100
    a, _ = model(x, lengths)
    b, _ = model(noisy, lengths)
    torch.testing.assert_close(a, b)


def test_longest_utterance_is_unaffected_by_shorter_batch_mates():
    model = _model()
    x = torch.randn(3, 12, 4)
    alone, _ = model(x[:1], torch.tensor([12]))
    batched, _ = model(x, torch.tensor([12, 4, 7]))
    torch.testing.assert_close(batched[:1], alone, atol=1e-6, rtol=1e-5)


def test_output_is_padding_invariant():
    """Both directions ignore padding: an utterance gives the same log-probs alone and in a batch."""
    model = _model(layers=2, hidden=6)
    x = torch.randn(1, 7, 4)
    alone, n = model(x, torch.tensor([7]))
    padded = torch.cat([x, torch.randn(1, 8, 4)], dim=1)
    batched, m = model(torch.cat([padded, torch.randn(1, 15, 4)]), torch.tensor([7, 15]))
    assert n.tolist() == [3] and m.tolist() == [3, 5]
    torch.testing.assert_close(batched[0, :3], alone[0], atol=1e-6, rtol=1e-5)


def test_reverse_padded_reverses_within_length():
    x = torch.arange(10, dtype=torch.float32).reshape(2, 5, 1)
    out = reverse_padded(x, torch.tensor([5, 3]))
    assert out[0, :, 0].tolist() == [4, 3, 2, 1, 0]
    assert out[1, :, 0].tolist() == [7, 6, 5, 8, 9]


def test_projection_layers():
    model = _model(proj=3, layers=2, hidden=5)
    assert len(model.projs) == 2
    assert all(p.in_features == 10 and p.out_features == 3 for p in model.projs)
    assert model.lstms[1].fwd.input_size == 3 and model.output.in_features == 3
    log_probs, out_lengths = model(torch.randn(2, 6, 4), torch.tensor([6, 4]))
    assert log_probs.shape == (2, 2, 7) and out_lengths.tolist() == [2, 2]
    no_proj = _model(proj=0)
    assert len(no_proj.projs) == 0 and no_proj.output.in_features == 10


def test_stack_frames_by_hand():
    x = torch.arange(2 * 5 * 2, dtype=torch.float32).reshape(2, 5, 2)
    out, lengths = stack_frames(x, torch.tensor([5, 3]), 2)
    assert out.shape == (2, 3, 4)
    assert out[0].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 0]]
    assert out[1, 0].tolist() == [10, 11, 12, 13]
    assert lengths.tolist() == [3, 2]
    out3, lengths3 = stack_frames(x, torch.tensor([5, 4]), 3)
    assert out3.shape == (2, 2, 6)
    assert out3[0, 1].tolist() == [6, 7, 8, 9, 0, 0]
    assert lengths3.tolist() == [2, 2]


def test_stack_one_is_identity():
    x, lengths = torch.randn(2, 4, 3), torch.tensor([4, 2])
    out, out_lengths = stack_frames(x, lengths, 1)
    assert out is x and out_lengths is lengths


def test_cmvn_buffers_are_saved_and_applied():
    cmvn = GlobalCMVN(3)
    assert set(cmvn.state_dict()) == {"mean", "istd"}
    cmvn.mean.copy_(torch.tensor([1.0, 2.0, 3.0]))
    cmvn.istd.copy_(torch.tensor([2.0, 1.0, 0.5]))
    out = cmvn(torch.tensor([[[1.0, 4.0, 7.0]]]))
    assert out.tolist() == [[[0.0, 2.0, 2.0]]]
    model = _model()
    assert "cmvn.mean" in model.state_dict() and "cmvn.istd" in model.state_dict()


def test_dropout_only_in_training_mode():
    model = _model(dropout=0.5)
    x, lengths = torch.randn(2, 6, 4), torch.tensor([6, 6])
    a, _ = model(x, lengths)
    b, _ = model(x, lengths)
    torch.testing.assert_close(a, b)
    model.train()
    c, _ = model(x, lengths)
    assert not torch.allclose(a, c)


@pytest.mark.parametrize("stack", [2, 3, 4, 6])
def test_conv_frontend_shapes_match_stacking(stack):
    lengths = torch.tensor([10, 7, 1, 9])
    x = torch.randn(4, 10, 4)
    conv, n_conv = _model(frontend="conv", conv_channels=3, conv_stride=stack)(x, lengths)
    _, n_stack = _model(stack=stack)(x, lengths)
    assert conv.shape == (4, math.ceil(10 / stack), 7)
    assert n_conv.tolist() == n_stack.tolist()


def test_conv_frontend_at_stride_6_hears_every_frame():
    """Stride 6 runs as 2 x 3 (conv1, conv2): every input frame moves the output, where a 3-frame kernel at
    stride 6 would skip frames. Strides up to 4 keep conv1 at stride 1."""
    model = _model(frontend="conv", conv_channels=16, input_dim=16, conv_stride=6)
    assert (model.frontend.conv1.stride[0], model.frontend.conv2.stride[0]) == (2, 3)
    assert _model(frontend="conv", conv_channels=3, conv_stride=4).frontend.conv2.stride[0] == 4
    x = torch.randn(1, 22, 16, requires_grad=True)  # (at 24 frames conv2's last step ends a conv1 frame early)
    log_probs, _ = model(x, torch.tensor([22]))
    (log_probs * torch.randn(log_probs.shape)).sum().backward()
    assert bool((x.grad.abs().sum(-1) > 0).all())


def test_conv_frontend_output_dim_for_odd_feature_sizes():
    for dim in (1, 4, 13, 80):
        model = _model(frontend="conv", conv_channels=2, input_dim=dim)
        log_probs, _ = model(torch.randn(1, 6, dim), torch.tensor([6]))
        assert log_probs.shape == (1, 2, 7)


@pytest.mark.parametrize("conv_proj,stack", [(0, 3), (5, 3), (0, 6)])
def test_conv_frontend_ignores_padding_and_batch_mates(conv_proj, stack):
    """Frames past a length are zeroed before each convolution: alone == in a batch, whatever the padding holds."""
    model = _model(frontend="conv", conv_channels=3, hidden=6, conv_proj=conv_proj, conv_stride=stack)
    x = torch.randn(3, 14, 4)
    lengths = torch.tensor([14, 8, 5])
    noisy = x.clone()
    noisy[1, 8:] = torch.randn(6, 4) * 100
    noisy[2, 5:] = torch.randn(9, 4) * 100
    batched, out_lengths = model(noisy, lengths)
    for i, n in enumerate(lengths.tolist()):
        alone, m = model(x[i : i + 1, :n], lengths[i : i + 1])
        torch.testing.assert_close(batched[i, : int(m)], alone[0], atol=1e-5, rtol=1e-5)
        assert int(m) == int(out_lengths[i])


def test_conv_proj_sets_the_first_lstm_input_size():
    model = _model(frontend="conv", conv_channels=4, input_dim=8, conv_proj=5)
    assert model.frontend.output_dim == 5 and model.lstms[0].fwd.input_size == 5
    plain = _model(frontend="conv", conv_channels=4, input_dim=8)
    assert plain.frontend.proj is None and plain.lstms[0].fwd.input_size == 4 * 2


def test_unknown_frontend_is_refused():
    with pytest.raises(ValueError, match="frontend"):
        _model(frontend="transformer")


def test_utterance_mean_normalisation_ignores_padding():
    x = torch.randn(2, 6, 4) + 3.0
    mask = torch.arange(6)[None, :] < torch.tensor([6, 4])[:, None]
    y = utterance_mean_normalised(x, mask)
    torch.testing.assert_close(y[0].mean(0), torch.zeros(4), atol=1e-6, rtol=0)
    torch.testing.assert_close(y[1, :4].mean(0), torch.zeros(4), atol=1e-6, rtol=0)
    torch.testing.assert_close(y[1, :4], x[1, :4] - x[1, :4].mean(0))


def test_utt_cmn_model_is_blind_to_a_constant_channel():
    """A stationary channel adds a constant vector to log-mel frames: with utt_cmn the output is unchanged
    (and still padding-invariant); without it, it changes."""
    x = torch.randn(2, 10, 4)
    lengths = torch.tensor([10, 6])
    channel = torch.tensor([2.0, -1.0, 0.5, 3.0])
    for frontend in ("stack", "conv"):
        model = _model(utt_cmn=True, frontend=frontend, conv_channels=3)
        a, _ = model(x, lengths)
        b, _ = model(x + channel, lengths)
        torch.testing.assert_close(a[0], b[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(a[1, :2], b[1, :2], atol=1e-5, rtol=1e-5)
        alone, _ = model(x[1:, :6], lengths[1:])
        torch.testing.assert_close(a[1, :2], alone[0], atol=1e-5, rtol=1e-5)
    plain = _model(frontend="stack")
    assert not torch.allclose(plain(x, lengths)[0], plain(x + channel, lengths)[0], atol=1e-3)


def test_residual_adds_each_layers_input_where_sizes_match():
    """residual: layers 2..L output input + BiLSTM(input); the first (other input size) does not; exact on padding."""
    torch.manual_seed(0)
    model = _model(hidden=3, layers=3, residual=True, dropout=0.0)
    plain = _model(hidden=3, layers=3, dropout=0.0)
    plain.load_state_dict(model.state_dict())  # the same weights: only the additions differ
    x, lengths = torch.randn(2, 9, 4), torch.tensor([9, 5])
    seen = []
    hook = lambda mod, args, out: seen.append((args[0], out))  # noqa: E731
    handles = [lstm.register_forward_hook(hook) for lstm in model.lstms]
    out, _ = model(x, lengths)
    for h in handles:
        h.remove()
    (x0, y0), (x1, y1), (x2, y2) = seen
    assert x0.shape[-1] == 4 * 3 and y0.shape[-1] == 6  # stacked input: no residual around layer 1
    torch.testing.assert_close(x1, y0)
    torch.testing.assert_close(x2, x1 + y1)
    torch.testing.assert_close(out, model.output(x2 + y2).log_softmax(-1))
    assert not torch.allclose(out, plain(x, lengths)[0])
    alone, _ = model(x[1:, :5], lengths[1:])
    torch.testing.assert_close(out[1, :2], alone[0], atol=1e-5, rtol=1e-5)


def test_upsample_gives_u_output_frames_per_lstm_step_in_time_order():
    """upsample U: out_lengths = ceil(T/S) * U; step t's output-layer row holds frames tU..tU+U-1, each a
    distribution; exact on padding; U must divide the stacking; the frame time shrinks by U."""
    from asr.nn.model import output_frame_seconds

    model = _model(stack=4, upsample=2, hidden=3)
    x, lengths = torch.randn(2, 11, 4), torch.tensor([11, 6])
    seen = []
    handle = model.output.register_forward_hook(lambda mod, args, out: seen.append(out))
    log_probs, out_lengths = model(x, lengths)
    handle.remove()
    assert out_lengths.tolist() == [math.ceil(11 / 4) * 2, math.ceil(6 / 4) * 2] == [6, 4]
    assert log_probs.shape == (2, 6, 7) and seen[0].shape == (2, 3, 14)
    torch.testing.assert_close(log_probs[:, 2], seen[0][:, 1, :7].log_softmax(-1))  # step 1, first frame
    torch.testing.assert_close(log_probs[:, 3], seen[0][:, 1, 7:].log_softmax(-1))  # step 1, second frame
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(2, 6))
    alone, _ = model(x[1:, :6], lengths[1:])
    torch.testing.assert_close(log_probs[1, :4], alone[0], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="upsample must divide the time subsampling"):
        _model(stack=3, upsample=2)
    assert output_frame_seconds(10.0, 6, 2) == pytest.approx(0.03) == output_frame_seconds(10.0, 3)


def test_build_model_knows_one_architecture_and_the_conv_stride_is_its_own_key():
    from asr.config import ConfigError
    from asr.nn.model import build_model

    assert isinstance(build_model(ModelConfig(input_dim=4, hidden=5, layers=1, vocab_size=7)), BiLSTMCTC)
    with pytest.raises(ConfigError, match="model.arch: unknown architecture 'conformer'; known: bilstm_ctc"):
        build_model(ModelConfig(arch="conformer", vocab_size=7))
    # the stack front-end subsamples by `stack`, the conv one by `conv_stride`; each ignores the other's key
    cfg = ModelConfig(input_dim=4, hidden=5, layers=1, vocab_size=7, frontend="conv", conv_channels=3, conv_stride=2, stack=6)
    assert cfg.subsampling == 2 and build_model(cfg)(torch.zeros(1, 10, 4), torch.tensor([10]))[0].shape[1] == 5
    assert ModelConfig(stack=6, conv_stride=2).subsampling == 6


def test_model_directories_written_before_arch_keep_their_conv_stride(tmp_path):
    """Before `arch` and `conv_stride`, the conv front-end's stride was `stack`: a config.yaml without `arch`
    (models/en_synth's, models/en's) loads with conv_stride = stack; one with `arch` is read as written."""
    import yaml

    from asr.nn.modeldir import ModelDir

    old = {"input_dim": 4, "stack": 6, "frontend": "conv", "conv_channels": 3, "hidden": 5, "layers": 1, "vocab_size": 7}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"model": old, "features": {"num_mel_bins": 4}}))
    model_cfg, _ = ModelDir(tmp_path).read_config()
    assert model_cfg.arch == "bilstm_ctc" and model_cfg.conv_stride == 6 and model_cfg.subsampling == 6
    new = {**old, "arch": "bilstm_ctc", "conv_stride": 3}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"model": new, "features": {"num_mel_bins": 4}}))
    assert ModelDir(tmp_path).read_config()[0].subsampling == 3
    for name in ("en", "en_synth"):  # the bundled models: written before arch, conv with stack 3
        bundled = ModelDir(Path(__file__).resolve().parents[1] / "models" / name).read_config()[0]
        assert (bundled.frontend, bundled.conv_stride, bundled.subsampling) == ("conv", 3, 3)
