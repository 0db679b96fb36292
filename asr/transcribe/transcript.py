"""What transcription returns: a typed transcript per input, with timed words.

    Transcript(id="a", source="a.wav", text="hello world", duration=1.9, score=-3.2,
               words=[Word("hello", 0.21, 0.55, 0.97), Word("world", 0.61, 1.02, 0.91)])

Times are seconds from the start of the input; `confidence` is in [0, 1] (the geometric mean
of the posteriors of the word's aligned tokens). `words` is empty when timestamps were not
asked for. `to_dict` / `from_dict` give the JSON-lines form.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Word:
    word: str
    start: float  # seconds
    end: float  # seconds, > start
    confidence: float  # 0..1


@dataclass
class Transcript:
    id: str  # utterance id: the wav.scp key, else derived from the file name (no whitespace)
    source: str  # the path it came from, or "<array N>" for an in-memory waveform
    text: str
    duration: float  # seconds of audio
    score: float = 0.0  # the decoder's score of the best hypothesis (sum over chunks)
    words: list[Word] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["words"] = [asdict(w) for w in self.words]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Transcript":
        return cls(
            id=d["id"], source=d["source"], text=d["text"], duration=float(d["duration"]),
            score=float(d.get("score", 0.0)), words=[Word(**w) for w in d.get("words", [])],
        )
