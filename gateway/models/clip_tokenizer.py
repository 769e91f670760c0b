"""CLIP's text tokenizer: a port of OpenAI's `clip/simple_tokenizer.py` and `clip.tokenize`.

The gateway turns a text query into the `clip_text` model's `input_ids` with it. The BPE
file and its licence ship inside the package (`gateway/assets/`) because the gateway never
reads `model_repository/`; the exporter copies the same files beside `clip_text` with
`write_assets`. keras-hub's `CLIPTokenizer` is the reference in the tests, but where the
two differ (text repair, HTML entities, ...) this module follows OpenAI.
"""

from __future__ import annotations

import functools
import gzip
import html
import itertools
from collections.abc import Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import ftfy
import numpy as np
import numpy.typing as npt
import regex

from gateway.models.spec import CLIP_CONTEXT_LENGTH

BPE_FILENAME = "bpe_simple_vocab_16e6.txt.gz"
LICENSE_FILENAME = "LICENSE-CLIP.txt"

START_TOKEN = "<|startoftext|>"
END_TOKEN = "<|endoftext|>"
START_TOKEN_ID = 49406
END_TOKEN_ID = 49407
VOCABULARY_SIZE = 49408

# OpenAI keeps lines[1 : 49152 - 256 - 2 + 1]: line 0 is a "#version" header, and the
# vocabulary (256 bytes, 256 bytes + "</w>", the merges, 2 specials) must total 49408.
_NUM_MERGES = 49152 - 256 - 2

# Contractions, runs of letters, single digits ("2024" is four tokens), runs of other
# non-space characters. The special tokens come first so they are never split.
_SPLIT = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)
_WHITESPACE = regex.compile(r"\s+")

# OpenAI's cache is unbounded; the gateway sees arbitrary user text, so bound it.
_BPE_CACHE_SIZE = 65536


@functools.cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 byte values to printable characters.

    Printable Latin-1 bytes map to themselves; the others (controls, space, ...) to
    code points from 256 up, so BPE never sees whitespace or control characters.
    """
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    codes = printable[:]
    shifted = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + shifted)
            shifted += 1
    return {b: chr(c) for b, c in zip(printable, codes, strict=True)}


def clean_text(text: str) -> str:
    """OpenAI's `basic_clean` + `whitespace_clean` + lower case."""
    text = ftfy.fix_text(text)  # mojibake, curly quotes, ligatures, full-width forms, NFC
    text = html.unescape(html.unescape(text)).strip()  # twice: "&amp;amp;" -> "&"
    return _WHITESPACE.sub(" ", text).strip().lower()


def _asset(name: str) -> Traversable:
    return resources.files("gateway").joinpath("assets", name)


def write_assets(dest: Path) -> None:
    """Write byte-identical copies of the BPE file and its licence into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in (BPE_FILENAME, LICENSE_FILENAME):
        (dest / name).write_bytes(_asset(name).read_bytes())


class ClipTokenizer:
    """OpenAI CLIP's byte-level BPE tokenizer (thread-safe; build it once and reuse it)."""

    def __init__(self, bpe_text: str) -> None:
        """`bpe_text`: the decompressed content of OpenAI's `bpe_simple_vocab_16e6.txt`."""
        lines = bpe_text.split("\n")[1 : _NUM_MERGES + 1]
        self._merges: list[tuple[str, str]] = []
        for line in lines:
            first, second = line.split()
            self._merges.append((first, second))
        byte_chars = list(bytes_to_unicode().values())
        tokens = [
            *byte_chars,
            *(c + "</w>" for c in byte_chars),
            *(a + b for a, b in self._merges),
            START_TOKEN,
            END_TOKEN,
        ]
        self._encoder = {token: i for i, token in enumerate(tokens)}
        if len(self._encoder) != VOCABULARY_SIZE:
            raise ValueError(f"expected {VOCABULARY_SIZE} tokens, built {len(self._encoder)}")
        self._ranks = {merge: rank for rank, merge in enumerate(self._merges)}
        # A per-instance cache (an lru_cache on the method would keep every instance alive).
        self._bpe = functools.lru_cache(maxsize=_BPE_CACHE_SIZE)(self._bpe_uncached)

    @classmethod
    def from_file(cls, path: Path) -> ClipTokenizer:
        return cls(gzip.decompress(path.read_bytes()).decode("utf-8"))

    @classmethod
    def from_package(cls) -> ClipTokenizer:
        """The tokenizer built from the BPE file shipped in `gateway/assets/`."""
        return cls(gzip.decompress(_asset(BPE_FILENAME).read_bytes()).decode("utf-8"))

    def vocabulary(self) -> dict[str, int]:
        """Token -> id, as keras-hub's `CLIPTokenizer(vocabulary=...)` takes it."""
        return dict(self._encoder)

    def merges(self) -> list[str]:
        """Merge rules in rank order ("a b"), as keras-hub's `CLIPTokenizer(merges=...)`."""
        return [f"{a} {b}" for a, b in self._merges]

    def _bpe_uncached(self, word: str) -> tuple[str, ...]:
        """Split one pre-token (already byte-mapped) into vocabulary tokens."""
        if word in (START_TOKEN, END_TOKEN):
            return (word,)
        parts = (*word[:-1], word[-1] + "</w>")
        while len(parts) > 1:
            # Apply the best-ranked merge present, at every (non-overlapping) position.
            pairs = itertools.pairwise(parts)
            best = min(pairs, key=lambda pair: self._ranks.get(pair, len(self._ranks)))
            if best not in self._ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(parts):
                if i < len(parts) - 1 and (parts[i], parts[i + 1]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = tuple(merged)
        return parts

    def encode(self, text: str) -> list[int]:
        """BPE ids of `text`, without start/end tokens."""
        byte_map = bytes_to_unicode()
        ids: list[int] = []
        for piece in _SPLIT.findall(clean_text(text)):
            word = "".join(byte_map[b] for b in piece.encode("utf-8"))
            ids.extend(self._encoder[token] for token in self._bpe(word))
        return ids

    def tokenize(
        self,
        texts: str | Sequence[str],
        context_length: int = CLIP_CONTEXT_LENGTH,
        trim: bool = False,
    ) -> npt.NDArray[np.int32]:
        """`clip.tokenize(texts, truncate=True)`: int32 [N, context_length].

        Each row is the start token, the ids, the end token, then zeros. Too long a text is
        cut to `context_length` with the end token kept last, since the text tower pools
        its embedding at the end token. With `trim`, the columns after the longest row's end
        token are dropped (`trim_to_longest`).
        """
        ids = self._tokenize(texts, context_length)
        return trim_to_longest(ids) if trim else ids

    def _tokenize(self, texts: str | Sequence[str], context_length: int) -> npt.NDArray[np.int32]:
        if isinstance(texts, str):
            texts = [texts]
        out = np.zeros((len(texts), context_length), dtype=np.int32)
        for row, text in enumerate(texts):
            ids = [START_TOKEN_ID, *self.encode(text), END_TOKEN_ID]
            if len(ids) > context_length:
                ids = [*ids[: context_length - 1], END_TOKEN_ID]
            out[row, : len(ids)] = ids
        return out


def trim_to_longest(ids: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """`ids` without the columns after the longest row's end token.

    CLIP's text tower is causal and pools at the end token, so positions after it change
    nothing in any row: a query of five words runs 7 positions instead of 77, and the
    embedding equals the full-length one (tests/integration/test_clip_text_length.py).
    The end token has the largest id, so each row's argmax is its end (id 0 is "!", a real
    token, so zeros cannot be counted)."""
    if ids.size == 0:
        return ids
    longest = int(ids.argmax(axis=1).max()) + 1
    return np.ascontiguousarray(ids[:, :longest])
