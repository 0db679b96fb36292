"""CTC prefix beam search without a language model, vectorised over utterances and beams.

Each frame, every prefix in the beam either stays (a blank, or a repeat of its last token)
or grows by one token; the probability of a prefix sums over all its alignments
(p_blank + p_nonblank, Graves 2012 / Hannun et al. 2014). All of a batch moves in step:
the candidates of frame t are one [N, K + K*V] tensor and one `topk` picks the next beam.

A prefix is identified by a 64-bit rolling hash of its tokens, so an extension that spells a
prefix already in the beam ("a" + "b" while "ab" is there) is merged into it rather than
kept twice. Back-pointers (source beam, emitted token) per frame give the tokens and the
frame at which each one was first emitted.

With beam 1 this is greedy decoding whenever each frame's best token has a probability
above about 0.74, as a trained CTC model's are; on flat distributions the two can differ
because greedy follows the best single alignment and this the best summed prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from asr.data.tokens import TokenTable
from asr.decoding.base import Decoder, DecoderConfig
from asr.decoding.hypothesis import Hypothesis

_NEG = float("-inf")
_HASH_MUL = 0x100000001B3  # FNV-1a 64-bit prime; int64 products wrap, which is what a hash wants


@dataclass
class BeamResult:
    tokens: list[int]  # collapsed token ids, no blanks
    timesteps: list[int]  # output frame at which each token was first emitted
    score: float  # natural-log probability of the prefix, summed over its alignments


def _extend_hash(h: torch.Tensor, tok: torch.Tensor) -> torch.Tensor:
    return (h ^ (tok + 1)) * _HASH_MUL


def prefix_beam_search(
    log_probs: torch.Tensor, lengths: torch.Tensor, beam: int, blank: int = 0, nbest: int = 1
) -> list[list[BeamResult]]:
    """log_probs [N, T, V] (log-softmax over V), lengths [N] (output frames) -> N lists of at most
    `nbest` results, best first. An utterance of length 0 gets one empty result (score 0)."""
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    lp_all = log_probs.detach().float().cpu()
    n_utt, n_frames, vocab = lp_all.shape
    k = beam
    lengths = lengths.cpu()
    arange_k = torch.arange(k).expand(n_utt, k)
    # Dead (empty) beam slots get distinct negative hashes that no real prefix will match.
    dead_h, dead_ph = -1 - arange_k, -1 - k - arange_k
    p_b = torch.full((n_utt, k), _NEG)
    p_b[:, 0] = 0.0
    p_nb = torch.full((n_utt, k), _NEG)
    last = torch.full((n_utt, k), -1, dtype=torch.long)  # last token of the prefix, -1: empty prefix
    h = dead_h.clone()
    h[:, 0] = 0
    ph = dead_ph.clone()  # hash of the prefix without its last token
    back_src = torch.zeros(n_frames, n_utt, k, dtype=torch.long)
    back_tok = torch.full((n_frames, n_utt, k), -1, dtype=torch.long)
    is_blank = torch.arange(vocab) == blank

    for t in range(n_frames):
        lp = lp_all[:, t]  # [N, V]
        p_tot = torch.logaddexp(p_b, p_nb)
        lp_last = torch.where(last >= 0, lp.gather(1, last.clamp(min=0)), _NEG)  # [N, K]
        stay_b = p_tot + lp[:, blank : blank + 1]
        stay_nb = p_nb + lp_last
        # Growing by c: from p_b only when c repeats the last token (a blank must separate them).
        repeat = torch.arange(vocab).view(1, 1, vocab) == last.unsqueeze(2)
        ext = torch.where(repeat, p_b.unsqueeze(2), p_tot.unsqueeze(2)) + lp.unsqueeze(1)  # [N, K, V]
        ext.masked_fill_(is_blank, _NEG)
        # Merge "prefix i + token c" into beam j when j already is that prefix.
        parent = ph.unsqueeze(2) == h.unsqueeze(1)  # [N, K(j), K(i)]: beam i is beam j's parent
        has_parent = parent.any(dim=2)
        if bool(has_parent.any()):
            n_idx, j_idx = has_parent.nonzero(as_tuple=True)
            i_idx = parent[n_idx, j_idx].float().argmax(dim=1)
            c_idx = last[n_idx, j_idx]
            stay_nb[n_idx, j_idx] = torch.logaddexp(stay_nb[n_idx, j_idx], ext[n_idx, i_idx, c_idx])
            ext[n_idx, i_idx, c_idx] = _NEG
        cand = torch.cat([torch.logaddexp(stay_b, stay_nb), ext.reshape(n_utt, k * vocab)], dim=1)
        top, idx = cand.topk(k, dim=1)
        stays = idx < k
        src = torch.where(stays, idx, torch.div(idx - k, vocab, rounding_mode="floor"))
        tok = torch.where(stays, -1, (idx - k) % vocab)
        src_h = h.gather(1, src)
        new_b = torch.where(stays, stay_b.gather(1, src), _NEG)
        new_nb = torch.where(stays, stay_nb.gather(1, src), top)
        new_last = torch.where(stays, last.gather(1, src), tok)
        new_h = torch.where(stays, src_h, _extend_hash(src_h, tok))
        new_ph = torch.where(stays, ph.gather(1, src), src_h)
        dead = top == _NEG
        new_h = torch.where(dead, dead_h, new_h)
        new_ph = torch.where(dead, dead_ph, new_ph)
        active = (t < lengths).unsqueeze(1)  # frames past an utterance's end leave its beam as it is
        p_b = torch.where(active, new_b, p_b)
        p_nb = torch.where(active, new_nb, p_nb)
        last = torch.where(active, new_last, last)
        h = torch.where(active, new_h, h)
        ph = torch.where(active, new_ph, ph)
        back_src[t] = torch.where(active, src, arange_k)
        back_tok[t] = torch.where(active, tok, -1)

    final = torch.logaddexp(p_b, p_nb)
    order = final.argsort(dim=1, descending=True)[:, : min(nbest, k)]  # [N, B]
    emitted = torch.full((n_frames, n_utt, order.shape[1]), -1, dtype=torch.long)
    cur = order.clone()
    for t in range(n_frames - 1, -1, -1):
        emitted[t] = back_tok[t].gather(1, cur)
        cur = back_src[t].gather(1, cur)
    results: list[list[BeamResult]] = []
    for n in range(n_utt):
        hyps = []
        for b in range(order.shape[1]):
            score = float(final[n, order[n, b]])
            if score == _NEG and hyps:
                break
            col = emitted[:, n, b]
            frames = (col >= 0).nonzero().flatten()
            hyps.append(BeamResult(col[frames].tolist(), frames.tolist(), score))
        results.append(hyps)
    return results


class BeamSearchDecoder(Decoder):
    """prefix_beam_search as a Decoder (registered as `beam` in asr.decoding.registry)."""

    def __init__(self, tokens: TokenTable, beam: int = 8, nbest: int = 1) -> None:
        self.tokens, self.beam, self.nbest = tokens, beam, nbest

    def decode_nbest(self, log_probs, lengths):
        out = prefix_beam_search(log_probs, lengths, self.beam, blank=self.tokens.blank_id, nbest=self.nbest)
        return [[Hypothesis(self.tokens.decode(r.tokens), r.tokens, r.score, r.timesteps) for r in rs] for rs in out]


def build(cfg: DecoderConfig, tokens: TokenTable, base_dir: str | Path | None = None) -> BeamSearchDecoder:
    return BeamSearchDecoder(tokens, cfg.beam, cfg.nbest)
