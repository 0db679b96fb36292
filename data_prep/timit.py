"""TIMIT (LDC93S1) into Kaldi data dirs of phone transcripts: train, dev and the core test set.

    python -m data_prep.timit CORPUS_DIR data/local [--phones 48] [--convert-to-wav]

Reads the LDC layout, in upper case (the CD-ROM: `TIMIT/TRAIN/DR1/FCJF0/SI1027.WAV`) or lower case
(`timit/train/dr1/fcjf0/si1027.wav`); CORPUS_DIR may be the folder with TRAIN/TEST or a parent:

    <TRAIN|TEST>/DR<n>/<SPK>/<SENT>.WAV   NIST SPHERE, 16 kHz 16-bit PCM
    <SENT>.PHN  `<begin> <end> <phone>` (samples, 61 phones)    <SENT>.WRD  `<begin> <end> <word>`
    <SENT>.TXT  `<begin> <end> <sentence>`

Sets, as in Kaldi's egs/timit/s5: train = the 462 speakers of TRAIN; dev = the 50 speakers of
TEST in DEV_SPEAKERS; test = the 24-speaker core test set, CORE_TEST_SPEAKERS. The SA sentences
(read by every speaker) are left out, and so are the other TEST speakers: both are counted as
"excluded by design" in prepare.log, not as errors. Utterance ids are `<spk>-<sent>` in lower
case (`fcjf0-si1027`), the speaker is `<spk>`.

`text` holds the phones folded from 61 to the training set (`phones`: 61, 48 or 39; `q` is
dropped by the 48 and 39 folds); score with data_prep.timit_phones.write_per_dir on the 39 set.

Audio: libsndfile reads plain (uncompressed) SPHERE, so wav.scp points at the .WAV files. When
it cannot (or with `convert=True`), read_sphere converts them to <out_dir>/wav/<utt>.wav without sox.
Shorten-compressed SPHERE is refused with a clear message.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.errors import AsrError
from data_prep.common import (
    DEFAULT_MAX_BAD_FRACTION,
    EMPTY_TRANSCRIPT,
    MISSING_AUDIO,
    MISSING_TRANSCRIPT,
    REJECTED_TEXT,
    UNREADABLE,
    PrepError,
    PrepReport,
    RejectedText,
    Utterance,
    audio_problem,
    normalise_text,
    prep_arg_parser,
    run_prep_cli,
    write_prepared_dir,
)
from data_prep.timit_phones import TIMIT_FOLDING, PhoneError, fold_map, fold_phones

log = logging.getLogger(__name__)

# Kaldi egs/timit/s5/conf/dev_spk.list
DEV_SPEAKERS = frozenset(
    "faks0 fdac1 fjem0 mgwt0 mjar0 mmdb1 mmdm2 mpdf0 fcmh0 fkms0 mbdg0 mbwm0 mcsh0 fadg0 fdms0 fedw0 mgjf0 "
    "mglb0 mrtk0 mtaa0 mtdt0 mthc0 mwjg0 fnmr0 frew0 fsem0 mbns0 mmjr0 mdls0 mdlf0 mdvc0 mers0 fmah0 fdrw0 "
    "mrcs0 mrjm4 fcal1 mmwh0 fjsj0 majc0 mjsw0 mreb0 fgjd0 fjmg0 mroa0 mteb0 mjfc0 mrjr0 fmml0 mrws1".split()
)
# The core test set: 2 men and 1 woman from each of the 8 dialect regions (Kaldi conf/test_spk.list).
CORE_TEST_SPEAKERS = frozenset(
    "mdab0 mwbt0 felc0 mtas1 mwew0 fpas0 mjmp0 mlnt0 fpkt0 mlll0 mtls0 fjlm0 mbpm0 mklt0 fnlp0 mcmj0 mjdh0 "
    "fmgd0 mgrt0 mnjm0 fdhc0 mjln0 mpam0 fmld0".split()
)
SETS = ("train", "dev", "test")


class SphereError(AsrError, ValueError):
    """A NIST SPHERE file cannot be read; the message names the file and what to do."""


def read_sphere_header(path: str | Path) -> dict[str, str | int]:
    """The fields of a NIST SPHERE header (`NIST_1A`, header size, `<name> -<type> <value>` lines)."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(16)
        if not head.startswith(b"NIST_1A"):
            raise SphereError(f"{path}: not a NIST SPHERE file (no 'NIST_1A' at the start)")
        try:
            size = int(head[8:16].strip())
        except ValueError:
            raise SphereError(f"{path}: bad SPHERE header size {head[8:16]!r}") from None
        f.seek(0)
        text = f.read(size).decode("ascii", errors="replace")
    fields: dict[str, str | int] = {"header_size": size}
    for line in text.splitlines()[2:]:
        if line.strip() == "end_head":
            break
        parts = line.split(None, 2)
        if len(parts) == 3:
            name, kind, value = parts
            fields[name] = int(value) if kind == "-i" else value
    return fields


def read_sphere(path: str | Path) -> tuple[np.ndarray, int]:
    """Samples [S] (float32 in [-1, 1], first channel of interleaved audio) and the sample rate.

    Supports uncompressed 16-bit PCM in either byte order. Raises SphereError naming the file for
    shorten/wavpack-compressed or other encodings.
    """
    path = Path(path)
    h = read_sphere_header(path)
    coding = str(h.get("sample_coding", "pcm"))
    if coding != "pcm":
        raise SphereError(
            f"{path}: SPHERE sample_coding is '{coding}'; only uncompressed PCM is supported "
            "(decompress the corpus once with NIST's w_decode or sph2pipe, then prepare again)"
        )
    if int(h.get("sample_n_bytes", 2)) != 2:
        raise SphereError(f"{path}: {h.get('sample_n_bytes')} bytes per sample; only 16-bit PCM is supported")
    order = str(h.get("sample_byte_format", "01"))
    if order not in ("01", "10"):
        raise SphereError(f"{path}: unknown sample_byte_format '{order}'")
    channels, rate = int(h.get("channel_count", 1)), int(h.get("sample_rate", 16000))
    raw = path.read_bytes()[int(h["header_size"]):]
    data = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2" if order == "01" else ">i2")
    count = int(h.get("sample_count", len(data) // channels))
    if len(data) < count * channels:
        raise SphereError(f"{path}: header says {count} samples, the file holds {len(data) // channels}")
    wave = data[: count * channels].reshape(-1, channels)[:, 0]
    return (wave.astype(np.float32) / 32768.0), rate


def write_sphere(path: str | Path, wave: np.ndarray, sample_rate: int) -> None:
    """Write mono samples [S] in [-1, 1] as TIMIT's SPHERE: 1024-byte header, 16-bit little-endian PCM."""
    pcm = (np.clip(wave, -1.0, 1.0) * 32767).astype("<i2")
    fields = [
        f"sample_rate -i {sample_rate}", "channel_count -i 1", "sample_n_bytes -i 2", "sample_coding -s3 pcm",
        "sample_byte_format -s2 01", f"sample_count -i {len(pcm)}", "sample_sig_bits -i 16", "end_head",
    ]
    header = ("NIST_1A\n   1024\n" + "\n".join(fields) + "\n").encode("ascii")
    Path(path).write_bytes(header.ljust(1024, b" ") + pcm.tobytes())


def sphere_problem(path: str) -> str | None:
    """audio_problem for SPHERE: None when libsndfile or read_sphere can read the file."""
    if audio_problem(path) is None:
        return None
    try:
        wave, _ = read_sphere(path)
    except (OSError, SphereError) as e:
        return str(e)
    return None if len(wave) else "audio has no samples"


def timit_root(corpus_dir: str | Path) -> Path:
    """The folder holding TRAIN and TEST (any case): CORPUS_DIR, or TIMIT/, timit/, TIMIT/TIMIT/, data/ in it."""
    corpus_dir = Path(corpus_dir).resolve()
    for cand in (corpus_dir, *(corpus_dir / sub for sub in ("TIMIT", "timit", "TIMIT/TIMIT", "timit/timit", "data"))):
        if cand.is_dir():
            names = {p.name.lower() for p in cand.iterdir() if p.is_dir()}
            if {"train", "test"} <= names:
                return cand
    raise PrepError(f"{corpus_dir}: no TRAIN and TEST folders (any case) here or in TIMIT/, timit/ or data/; "
                    "point CORPUS_DIR at the TIMIT folder of the LDC distribution")


def _children(folder: Path) -> dict[str, Path]:
    """Entries of a folder by lower-case name, so upper- and lower-case corpora read the same."""
    return {p.name.lower(): p for p in folder.iterdir()}


def read_phn(path: Path) -> list[str]:
    """The phones of a .PHN file (`<begin> <end> <phone>` lines); raises RejectedText for a bad line or phone."""
    phones = []
    for lineno, line in enumerate(path.read_text(encoding="ascii", errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            raise RejectedText(f"line {lineno}: expected '<begin> <end> <phone>', got {line!r}")
        if parts[2] not in TIMIT_FOLDING:
            raise RejectedText(f"line {lineno}: {parts[2]!r} is not one of the 61 TIMIT phones")
        phones.append(parts[2])
    return phones


def read_wrd(path: Path) -> str:
    """The words of a .WRD file (`<begin> <end> <word>` lines), normalised."""
    lines = [line.split(None, 2) for line in path.read_text(encoding="ascii", errors="replace").splitlines()]
    return normalise_text(" ".join(parts[2] for parts in lines if len(parts) == 3))


def set_of(split: str, spk: str) -> str | None:
    """'train', 'dev', 'test' or None (a TEST speaker outside dev and the core test set)."""
    if split == "train":
        return "train"
    return "dev" if spk in DEV_SPEAKERS else "test" if spk in CORE_TEST_SPEAKERS else None


def timit_utterances(
    root: Path, mapping: dict[str, str | None], words: bool, reports: dict[str, PrepReport]
) -> dict[str, list[Utterance]]:
    """Candidate utterances per set; what cannot be used is reported to that set's report."""
    out: dict[str, list[Utterance]] = {s: [] for s in SETS}
    top = _children(root)
    for split in ("train", "test"):
        for dr in sorted(p for p in top[split].iterdir() if p.is_dir()):
            for spk_dir in sorted(p for p in dr.iterdir() if p.is_dir()):
                spk = spk_dir.name.lower()
                name = set_of(split, spk)
                files = _children(spk_dir)
                # a sentence is <SENT>.WAV/.PHN; `SI1027.WAV.wav` (a RIFF copy some redistributions
                # add beside the SPHERE file) or `._SI1027.WAV` (macOS) is not another sentence
                sents = sorted({Path(n).stem for n in files if Path(n).suffix in (".wav", ".phn")
                                and "." not in Path(n).stem and not n.startswith(".")})
                if name is None:
                    reports["test"].exclude("TEST speaker outside dev and core test", len(sents))
                    continue
                report = reports[name]
                for sent in sents:
                    if sent.startswith("sa"):
                        report.exclude("SA sentence (read by every speaker)")
                        continue
                    utt = f"{spk}-{sent}"
                    wav, phn = files.get(f"{sent}.wav") or files.get(f"{sent}.wav.wav"), files.get(f"{sent}.phn")
                    trans = files.get(f"{sent}.wrd") if words else phn
                    if wav is None:
                        report.bad(MISSING_AUDIO, spk_dir / f"{sent}.WAV", "transcript without audio", utt)
                        continue
                    if trans is None:
                        report.bad(MISSING_TRANSCRIPT, wav, f"no {'.WRD' if words else '.PHN'} file beside it", utt)
                        continue
                    try:
                        text = read_wrd(trans) if words else " ".join(fold_phones(read_phn(trans), mapping))
                    except (RejectedText, PhoneError) as e:
                        report.bad(REJECTED_TEXT, trans, str(e), utt)
                        continue
                    if not text:
                        report.bad(EMPTY_TRANSCRIPT, trans, "no phones or words", utt)
                        continue
                    out[name].append(Utterance(utt, spk, str(wav.resolve()), text))
    return out


def convert_to_wav(utts: list[Utterance], wav_dir: Path, report: PrepReport, force: bool) -> list[Utterance]:
    """Point each utterance at a WAV copy of its SPHERE file when libsndfile cannot read it (or `force`)."""
    out = []
    wav_dir.mkdir(parents=True, exist_ok=True)
    for u in utts:
        if not force and audio_problem(u.path) is None:
            out.append(u)
            continue
        target = wav_dir / f"{u.utt}.wav"
        if not target.exists():
            try:
                wave, rate = read_sphere(u.path)
            except (OSError, SphereError) as e:
                report.bad(UNREADABLE, u.path, str(e), u.utt)
                continue
            tmp = target.with_name(f".{target.stem}.tmp.wav")
            sf.write(str(tmp), wave, rate, subtype="PCM_16")
            tmp.replace(target)
        u.path = str(target.resolve())
        out.append(u)
    return out


def prepare_timit(
    corpus_dir: str | Path,
    out_dir: str | Path,
    phones: int = 48,
    words: bool = False,
    convert: bool = False,
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
) -> dict[str, PrepReport]:
    """Write out_dir/{train,dev,test} (and out_dir/wav when converting); returns the reports.

    phones: the set `text` is folded to (61, 48 or 39); words: word transcripts from .WRD instead.
    convert: write every utterance as WAV with read_sphere (otherwise only those libsndfile cannot read).
    """
    root, out_dir = timit_root(corpus_dir), Path(out_dir)
    mapping = fold_map(61, phones)
    reports = {s: PrepReport(s, source=str(root)) for s in SETS}
    candidates = timit_utterances(root, mapping, words, reports)
    for s in SETS:
        utts = convert_to_wav(candidates[s], out_dir / "wav", reports[s], convert)
        write_prepared_dir(out_dir / s, utts, reports[s], max_bad_fraction, audio_check=sphere_problem)
    return reports


def main(argv: list[str] | None = None) -> None:
    p = prep_arg_parser(__doc__)
    p.add_argument("--phones", type=int, choices=(61, 48, 39), default=48, help="phone set of `text`")
    p.add_argument("--words", action="store_true", help="word transcripts (.WRD) instead of phones")
    p.add_argument("--convert-to-wav", action="store_true", help="write every utterance as WAV under OUT_DIR/wav")
    args = p.parse_args(argv)
    run_prep_cli(lambda: prepare_timit(args.corpus_dir, args.out_dir, args.phones, args.words, args.convert_to_wav,
                                       args.max_bad_fraction))


if __name__ == "__main__":
    main()
