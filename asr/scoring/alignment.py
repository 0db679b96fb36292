"""sclite's alignment of a hypothesis to a reference, for many pairs at once.

NIST sclite (SCTK) scores with a weighted edit distance: correct 0, substitution 4,
insertion 3, deletion 3. Because a substitution costs less than an insertion plus a
deletion (6) but more than either alone, sclite sometimes prefers an alignment with
*more* errors than the minimum edit distance: ref `b b b a a a`, hyp `a a c a b b` costs
18 as 3 deletions + 3 insertions and 20 as 5 substitutions, so sclite reports 6 errors
where Levenshtein (jiwer, Kaldi's compute-wer) reports 5.

Among alignments of equal cost sclite picks the one its back-trace reaches first: from the
end of both strings, prefer the diagonal (correct or substitution), then an insertion, then
a deletion. So with equal cost, errors are pushed to the left: ref `a b`, hyp `c` is
`D S` (a deleted, b -> c), and ref `a a`, hyp `a` deletes the first `a`. This was checked
against sclite 2.4 on tens of thousands of random pairs over small vocabularies, where
ties are frequent (tests/test_alignment.py keeps a seeded sample of them).

An alignment is given as a string over "CSDI", one letter per step, left to right:
C correct, S substitution, D deletion (a reference token with no hypothesis token),
I insertion. `expand` turns it into (op, ref token, hyp token) triples.

The dynamic programme runs in numpy over buckets of pairs of similar lengths, the pairs
along the last (contiguous) axis. Within a row the insertion recurrence
D[i][j] = min(X[j], D[i][j-1] + 3) is a running minimum: D[i][j] - 3j = min over k <= j
of (X[k] - 3k).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np

CORRECT_COST, SUB_COST, INS_COST, DEL_COST = 0, 4, 3, 3
EPS = "***"  # stands for "no token" in alignments, as in Kaldi's per_utt and sclite's pra

# One alignment step: (op, ref token, hyp token), op in "CSDI"; the absent side is EPS.
Alignment = list[tuple[str, str, str]]

_C, _S, _D, _I, _PAD = (ord(c) for c in "CSDI.")


def _bucket_ops(ref: np.ndarray, hyp: np.ndarray, n: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Back-trace ops of one bucket of B pairs, last step first.

    ref: [N, B] token ids, hyp: [M, B] token ids (the pair is the last, contiguous axis;
    padding past n[b], m[b] never matches). n, m: [B] true lengths.
    Returns [B, N + M] uint8 ASCII op letters, padded with '.'.
    """
    big_n, batch = ref.shape
    big_m = hyp.shape[0]
    # costs stay below 4 * (N + M): small ints halve the memory traffic of long batches
    cost_t = np.int16 if SUB_COST * (big_n + big_m + 2) < np.iinfo(np.int16).max else np.int32
    sub_cost, del_cost, ins_cost = cost_t(SUB_COST - CORRECT_COST), cost_t(DEL_COST), cost_t(INS_COST)
    cost = np.empty((big_n + 1, big_m + 1, batch), cost_t)  # [i, j, pair]: cost of ref[:i] vs hyp[:j]
    ins_ramp = (np.arange(big_m + 1, dtype=cost_t) * ins_cost)[:, None]
    cost[0] = ins_ramp
    for i in range(1, big_n + 1):
        prev, row = cost[i - 1], cost[i]
        np.add(prev[:-1], (ref[i - 1] != hyp) * sub_cost, out=row[1:])  # diagonal
        if CORRECT_COST:
            row[1:] += cost_t(CORRECT_COST)
        np.minimum(row[1:], prev[1:] + del_cost, out=row[1:])  # deletion
        row[0] = prev[0] + del_cost
        row -= ins_ramp  # insertions: D[i][j] - 3j = running minimum over k <= j of (X[k] - 3k)
        if batch >= 1024:  # then row by row is several times faster than numpy's strided accumulate
            for j in range(1, big_m + 1):
                np.minimum(row[j], row[j - 1], out=row[j])
        else:
            np.minimum.accumulate(row, axis=0, out=row)
        row += ins_ramp

    # Back-trace from (n, m); sclite's preference among equal costs: diagonal, insertion, deletion.
    cols = np.arange(batch)
    i, j = n.astype(np.intp), m.astype(np.intp)
    ops = np.full((big_n + big_m, batch), _PAD, np.uint8)
    for step in range(big_n + big_m):
        has_i, has_j = i > 0, j > 0
        if not (has_i | has_j).any():
            break
        im1, jm1 = i - has_i, j - has_j
        here = cost[i, j, cols]
        same = ref[im1, cols] == hyp[jm1, cols]
        diag = has_i & has_j & (here == cost[im1, jm1, cols] + np.where(same, cost_t(CORRECT_COST), cost_t(SUB_COST)))
        ins = ~diag & has_j & (here == cost[i, jm1, cols] + ins_cost)
        dele = ~diag & ~ins & has_i
        ops[step] = np.where(diag, np.where(same, _C, _S), np.where(ins, _I, np.where(dele, _D, _PAD)))
        i -= diag | dele
        j -= diag | ins
    return ops.T


def _buckets(n: np.ndarray, m: np.ndarray, cell_budget: int) -> list[np.ndarray]:
    """Pair indices grouped by reference length, so that little of each DP table is padding.

    Pairs of neighbouring reference lengths share a bucket when that is cheaper than two
    (a row costs a fixed numpy overhead plus its cells); a bucket stays below cell_budget
    cells unless one pair alone is larger.
    """
    row_overhead = 20_000  # cells that cost as much time as the per-row numpy calls
    order = np.lexsort((m, n))
    n_sorted, m_sorted = n[order], m[order]
    starts = np.flatnonzero(np.r_[True, n_sorted[1:] != n_sorted[:-1]])
    ends = np.r_[starts[1:], len(order)]
    max_m = np.maximum.reduceat(m_sorted, starts)
    groups: list[tuple[int, int, int, int]] = []  # (start, end, N, M) over `order`
    for s, e, big_m in zip(starts.tolist(), ends.tolist(), max_m.tolist()):
        big_n = int(n_sorted[s])
        if groups:
            s0, _, n0, m0 = groups[-1]
            merged_m = max(m0, big_m)
            merged = big_n * (row_overhead + (e - s0) * merged_m)
            apart = n0 * (row_overhead + (s - s0) * m0) + big_n * (row_overhead + (e - s) * big_m)
            if merged <= apart and (e - s0) * (big_n + 1) * (merged_m + 1) <= cell_budget:
                groups[-1] = (s0, e, big_n, merged_m)
                continue
        groups.append((s, e, big_n, big_m))
    out = []
    for s, e, big_n, big_m in groups:  # split a bucket that is too large (m is sorted within one n)
        per = max(1, cell_budget // ((big_n + 1) * (big_m + 1)))
        out += [order[k : min(k + per, e)] for k in range(s, e, per)]
    return out


def _padded(ids: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, width: int, pad: int) -> np.ndarray:
    """[width, len(offsets)] token ids: column k = ids[offsets[k] : offsets[k] + lengths[k]], then pad."""
    pos = np.arange(width)[:, None]
    take = offsets[None, :] + pos
    out = ids[np.minimum(take, len(ids) - 1)] if len(ids) else np.zeros(take.shape, np.int32)
    return np.where(pos < lengths[None, :], out, pad)


def edit_ops_counts(
    refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]], cell_budget: int = 8_000_000
) -> tuple[list[str], np.ndarray]:
    """`edit_ops` and the number of C, S, D, I steps of each pair: [P, 4] int64."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    counts = np.zeros((len(refs), 4), np.int64)
    if not refs:
        return [], counts
    flat_ref, flat_hyp = list(chain.from_iterable(refs)), list(chain.from_iterable(hyps))
    vocab = {w: k for k, w in enumerate(dict.fromkeys(chain(flat_ref, flat_hyp)))}
    ref_ids = np.array(list(map(vocab.__getitem__, flat_ref)), np.int32)
    hyp_ids = np.array(list(map(vocab.__getitem__, flat_hyp)), np.int32)
    n = np.fromiter(map(len, refs), np.intp, len(refs))
    m = np.fromiter(map(len, hyps), np.intp, len(hyps))
    n_off, m_off = np.cumsum(n) - n, np.cumsum(m) - m
    out: list[str] = [""] * len(refs)
    for idx in _buckets(n, m, cell_budget):
        big_n, big_m = int(n[idx].max()), int(m[idx].max())
        # at least one column, so that the back-trace may index a 0-length side
        ref = _padded(ref_ids, n_off[idx], n[idx], max(big_n, 1), -1)
        hyp = _padded(hyp_ids, m_off[idx], m[idx], max(big_m, 1), -2)
        ops = _bucket_ops(ref, hyp, n[idx], m[idx])[:, ::-1]  # forward order, padding first
        counts[idx] = np.stack([(ops == code).sum(axis=1) for code in (_C, _S, _D, _I)], axis=1)
        ops = np.concatenate([ops, np.full((len(idx), 1), ord("\n"), np.uint8)], axis=1)
        text = ops.tobytes().decode("ascii").replace(".", "")
        for k, s in zip(idx.tolist(), text.split("\n")):
            out[k] = s
    return out, counts


def edit_ops(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]], cell_budget: int = 8_000_000) -> list[str]:
    """Align each hypothesis token list to its reference the way sclite does.

    Returns one string over "CSDI" per pair, left to right (see the module docstring).
    Tokens are compared exactly: lowercase them first for sclite's case-insensitive default.
    `cell_budget` bounds one bucket's cost table (cells of 2 or 4 bytes); a longer pair gets its own.
    """
    return edit_ops_counts(refs, hyps, cell_budget)[0]


def expand(ops: str, ref: Sequence[str], hyp: Sequence[str]) -> Alignment:
    """(op, ref token, hyp token) per step of `ops`; EPS stands for the missing side."""
    steps: Alignment = []
    i = j = 0
    for op in ops:
        if op in "CS":
            steps.append((op, ref[i], hyp[j]))
            i, j = i + 1, j + 1
        elif op == "D":
            steps.append((op, ref[i], EPS))
            i += 1
        else:
            steps.append((op, EPS, hyp[j]))
            j += 1
    if i != len(ref) or j != len(hyp):
        raise ValueError(f"alignment '{ops}' does not cover {len(ref)} ref and {len(hyp)} hyp tokens")
    return steps


def align(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]]) -> list[Alignment]:
    """sclite's alignment of each (ref tokens, hyp tokens) pair, as (op, ref, hyp) steps."""
    return [expand(ops, r, h) for ops, r, h in zip(edit_ops(refs, hyps), refs, hyps)]
