# Look-alike letters (Cyrillic, Greek, full-width, curly quotes) are the point of these tests.
# ruff: noqa: RUF001, RUF002, RUF003
"""The gateway's CLIP tokenizer against keras-hub's `CLIPTokenizer`, built offline.

keras-hub is the executable reference for the BPE ids. Where its behaviour and OpenAI's
`simple_tokenizer.py` differ, the tokenizer follows OpenAI: each such case has its own
test below and is kept out of the equality corpus.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway.models.clip_tokenizer import (
    BPE_FILENAME,
    END_TOKEN_ID,
    LICENSE_FILENAME,
    START_TOKEN_ID,
    VOCABULARY_SIZE,
    ClipTokenizer,
    clean_text,
    write_assets,
)
from gateway.models.spec import CLIP_CONTEXT_LENGTH
from tests.unit.models.clip_corpus import CORPUS, LONG_CAPTION

ASSETS = Path(__file__).resolve().parents[3] / "gateway" / "assets"
# sha256 of openai/CLIP's clip/bpe_simple_vocab_16e6.txt.gz (open_clip ships the same file).
OPENAI_BPE_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"


def _ids(row: Iterable[Any]) -> list[int]:
    return [int(i) for i in row]


@pytest.fixture(scope="module")
def tokenizer() -> ClipTokenizer:
    return ClipTokenizer.from_package()


@pytest.fixture(scope="module")
def keras_hub_tokenizer(tokenizer: ClipTokenizer) -> Any:
    """keras-hub's CLIPTokenizer from the same BPE file: no preset download."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras_hub = pytest.importorskip("keras_hub")
    return keras_hub.tokenizers.CLIPTokenizer(
        vocabulary=tokenizer.vocabulary(), merges=tokenizer.merges()
    )


def _keras_hub_ids(keras_hub_tokenizer: Any, text: str) -> list[int]:
    return _ids(keras_hub_tokenizer.tokenize([text])[0])


# --- The reference ---------------------------------------------------------------------


def test_the_corpus_has_at_least_200_distinct_strings() -> None:
    assert len(set(CORPUS)) >= 200


def test_a_photo_of_a_cat_gives_clips_ids(
    tokenizer: ClipTokenizer, keras_hub_tokenizer: Any
) -> None:
    assert tokenizer.encode("a photo of a cat") == [320, 1125, 539, 320, 2368]
    assert _keras_hub_ids(keras_hub_tokenizer, "a photo of a cat") == [320, 1125, 539, 320, 2368]


def test_token_ids_match_keras_hub_on_the_corpus(
    tokenizer: ClipTokenizer, keras_hub_tokenizer: Any
) -> None:
    expected = [_ids(row) for row in keras_hub_tokenizer.tokenize(CORPUS)]
    mismatches = {
        text: (ours, theirs)
        for text, theirs in zip(CORPUS, expected, strict=True)
        if (ours := tokenizer.encode(text)) != theirs
    }
    assert mismatches == {}


def test_tokenize_matches_keras_hubs_preprocessor_on_the_corpus(
    tokenizer: ClipTokenizer, keras_hub_tokenizer: Any
) -> None:
    """Start/end tokens, truncation keeping the end token, and zero padding."""
    keras_hub = pytest.importorskip("keras_hub")
    preprocessor = keras_hub.models.CLIPPreprocessor(
        keras_hub_tokenizer, sequence_length=CLIP_CONTEXT_LENGTH
    )
    expected = np.asarray(preprocessor({"prompts": CORPUS, "images": None})["token_ids"])
    np.testing.assert_array_equal(tokenizer.tokenize(CORPUS), expected)


def test_vocabulary_and_merges_have_clips_sizes(tokenizer: ClipTokenizer) -> None:
    vocabulary = tokenizer.vocabulary()
    assert len(vocabulary) == VOCABULARY_SIZE == 49408
    assert sorted(vocabulary.values()) == list(range(VOCABULARY_SIZE))
    assert vocabulary["<|startoftext|>"] == START_TOKEN_ID == 49406
    assert vocabulary["<|endoftext|>"] == END_TOKEN_ID == 49407
    merges = tokenizer.merges()
    assert len(merges) == 48894
    assert merges[0] == "i n"


# --- Where keras-hub and OpenAI differ: OpenAI wins -------------------------------------


@pytest.mark.parametrize(
    ("raw", "cleaned", "expected"),
    [
        ("Tom &amp; Jerry", "tom & jerry", [2435, 261, 9164]),
        ("&lt;b&gt;", "<b>", [283, 321, 285]),
        ("&quot;hi&quot;", '"hi"', [257, 1883, 257]),
        ("&#39;s", "'s", [568]),
        ("&nbsp;x", "x", [343]),
        # Unescaped twice, as OpenAI does: "&amp;amp;" -> "&amp;" -> "&".
        ("&amp;amp;", "&", [261]),
    ],
)
def test_html_entities_are_unescaped_which_keras_hub_does_not_do(
    tokenizer: ClipTokenizer,
    keras_hub_tokenizer: Any,
    raw: str,
    cleaned: str,
    expected: list[int],
) -> None:
    assert clean_text(raw) == cleaned
    assert tokenizer.encode(raw) == expected == _keras_hub_ids(keras_hub_tokenizer, cleaned)
    assert _keras_hub_ids(keras_hub_tokenizer, raw) != expected  # keras-hub keeps "&amp;" etc.


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("cafÃ©", "café"),  # mojibake (UTF-8 read as Latin-1) repaired
        ("“quoted”", '"quoted"'),  # curly quotes straightened...
        ("don’t", "don't"),  # ...so the contraction splits as for "don't"
        ("’s", "'s"),
        ("ﬁsh", "fish"),  # Latin ligatures expanded
        ("ﬀ", "ff"),
        ("ﬃ", "ffi"),
        ("ǅ", "dž"),
        ("ＡＢＣ", "abc"),  # full-width forms made normal width
        ("ｶﾀｶﾅ", "カタカナ"),  # half-width katakana made full width
        ("\ufeffbom", "bom"),  # byte-order mark removed
        ("\x00ctrl\x07", "ctrl"),  # control characters removed
        ("\x1b[31mred\x1b[0m", "red"),  # terminal colour escapes removed
    ],
)
def test_text_is_repaired_with_ftfy_which_keras_hub_does_not_do(
    tokenizer: ClipTokenizer, keras_hub_tokenizer: Any, raw: str, cleaned: str
) -> None:
    assert clean_text(raw) == cleaned
    expected = _keras_hub_ids(keras_hub_tokenizer, cleaned)
    assert tokenizer.encode(raw) == expected
    assert _keras_hub_ids(keras_hub_tokenizer, raw) != expected


def test_upper_case_final_sigma_lowers_to_final_sigma_unlike_keras_hub(
    tokenizer: ClipTokenizer, keras_hub_tokenizer: Any
) -> None:
    """Python's str.lower() applies Greek's final-sigma rule; keras-hub lowers per character.

    "ΟΔΟΣ" becomes "οδος" (ending in ς, U+03C2, bytes CF 82) in OpenAI's tokenizer but
    "οδοσ" (σ, U+03C3, bytes CF 83) in keras-hub's: the last token differs.
    """
    assert clean_text("ΟΔΟΣ") == "οδος"
    expected = [138, 123, 138, 112, 138, 123, 139, 480]  # ..., "Ï", "Ĥ</w>" (byte 0x82)
    assert tokenizer.encode("ΟΔΟΣ") == expected == _keras_hub_ids(keras_hub_tokenizer, "οδος")
    assert _keras_hub_ids(keras_hub_tokenizer, "ΟΔΟΣ")[-1] == 481  # "ĥ</w>" (byte 0x83)
    # A lone capital sigma is not word-final: both give σ.
    assert tokenizer.encode("Σ") == _keras_hub_ids(keras_hub_tokenizer, "Σ") == [139, 481]


def test_special_tokens_are_recognised_in_any_case_unlike_keras_hub(
    tokenizer: ClipTokenizer, keras_hub_tokenizer: Any
) -> None:
    """OpenAI lower-cases before splitting, so "<|EndOfText|>" is the end token.

    keras-hub matches its special tokens case-sensitively before lower-casing and splits
    the upper-case spelling into ordinary tokens.
    """
    assert tokenizer.encode("<|EndOfText|> x") == [END_TOKEN_ID, 343]
    assert tokenizer.encode("<|STARTOFTEXT|>") == [START_TOKEN_ID]
    assert _keras_hub_ids(keras_hub_tokenizer, "<|EndOfText|> x")[0] != END_TOKEN_ID


# --- tokenize(): the model's input_ids -------------------------------------------------


def test_tokenize_returns_int32_of_shape_n_by_77(tokenizer: ClipTokenizer) -> None:
    ids = tokenizer.tokenize(["a photo of a cat", "", LONG_CAPTION])
    assert ids.dtype == np.int32
    assert ids.shape == (3, CLIP_CONTEXT_LENGTH) == (3, 77)


def test_a_row_is_start_token_ids_end_token_then_zero_padding(tokenizer: ClipTokenizer) -> None:
    row = tokenizer.tokenize(["a photo of a cat"])[0]
    assert row[:7].tolist() == [START_TOKEN_ID, 320, 1125, 539, 320, 2368, END_TOKEN_ID]
    assert not row[7:].any()


def test_the_empty_string_gives_only_start_and_end_tokens(tokenizer: ClipTokenizer) -> None:
    for text in ("", "   \n\t"):
        assert tokenizer.encode(text) == []
        row = tokenizer.tokenize([text])[0]
        assert row.tolist() == [START_TOKEN_ID, END_TOKEN_ID] + [0] * 75


def test_too_long_text_is_truncated_keeping_the_end_token_at_index_76(
    tokenizer: ClipTokenizer,
) -> None:
    ids = tokenizer.encode(LONG_CAPTION)
    assert len(ids) > 77
    row = tokenizer.tokenize([LONG_CAPTION])[0]
    assert row[0] == START_TOKEN_ID
    assert row[1:76].tolist() == ids[:75]
    assert row[76] == END_TOKEN_ID


def test_text_of_exactly_75_tokens_fits_without_truncation(tokenizer: ClipTokenizer) -> None:
    text = " ".join(["cat"] * 75)
    assert tokenizer.encode(text) == [2368] * 75
    assert tokenizer.tokenize([text])[0].tolist() == [START_TOKEN_ID, *[2368] * 75, END_TOKEN_ID]
    longer = tokenizer.tokenize([text + " dog"])[0].tolist()
    assert longer == [START_TOKEN_ID, *[2368] * 75, END_TOKEN_ID]


def test_a_single_string_is_a_batch_of_one(tokenizer: ClipTokenizer) -> None:
    np.testing.assert_array_equal(
        tokenizer.tokenize("a photo of a cat"), tokenizer.tokenize(["a photo of a cat"])
    )


def test_an_empty_batch_gives_zero_rows(tokenizer: ClipTokenizer) -> None:
    assert tokenizer.tokenize([]).shape == (0, 77)


def test_a_shorter_context_length_is_honoured(tokenizer: ClipTokenizer) -> None:
    row = tokenizer.tokenize(["a photo of a cat"], context_length=4)[0]
    assert row.tolist() == [START_TOKEN_ID, 320, 1125, END_TOKEN_ID]


# --- Cleaning ------------------------------------------------------------------------


def test_text_is_lower_cased(tokenizer: ClipTokenizer) -> None:
    assert tokenizer.encode("A PHOTO Of A Cat") == tokenizer.encode("a photo of a cat")
    assert tokenizer.encode("ÉCOLE") == tokenizer.encode("école")


def test_whitespace_is_collapsed_and_stripped(tokenizer: ClipTokenizer) -> None:
    assert clean_text("  a \t photo\n\nof   a cat  ") == "a photo of a cat"
    assert tokenizer.encode("  a \t photo\n\nof   a cat  ") == [320, 1125, 539, 320, 2368]


def test_numbers_are_split_digit_by_digit(tokenizer: ClipTokenizer) -> None:
    assert tokenizer.encode("2024") == [273, 271, 273, 275]
    assert tokenizer.encode("3.14") == [274, 269, 272, 275]


# --- Assets --------------------------------------------------------------------------


def test_the_packaged_bpe_file_is_openais(tokenizer: ClipTokenizer) -> None:
    data = (ASSETS / BPE_FILENAME).read_bytes()
    assert hashlib.sha256(data).hexdigest() == OPENAI_BPE_SHA256
    assert gzip.decompress(data).startswith(b'"bpe_simple_vocab_16e6.txt#version: 0.2\n')


def test_the_licence_notice_is_openais_mit_licence() -> None:
    text = (ASSETS / LICENSE_FILENAME).read_text(encoding="utf-8")
    assert "MIT License" in text
    assert "Copyright (c) 2021 OpenAI" in text


def test_write_assets_writes_byte_identical_copies(tmp_path: Path) -> None:
    dest = tmp_path / "clip_text" / "tokenizer"
    write_assets(dest)
    assert sorted(p.name for p in dest.iterdir()) == sorted([BPE_FILENAME, LICENSE_FILENAME])
    for name in (BPE_FILENAME, LICENSE_FILENAME):
        assert (dest / name).read_bytes() == (ASSETS / name).read_bytes()


def test_a_tokenizer_loaded_from_the_written_copy_is_the_same(tmp_path: Path) -> None:
    write_assets(tmp_path)
    copy = ClipTokenizer.from_file(tmp_path / BPE_FILENAME)
    assert copy.encode(LONG_CAPTION) == ClipTokenizer.from_package().encode(LONG_CAPTION)


def test_the_tokenizer_imports_neither_tensorflow_nor_keras() -> None:
    """The gateway must not depend on TensorFlow: keras-hub is for the tests only."""
    code = (
        "import sys, gateway.models.clip_tokenizer as m; m.ClipTokenizer.from_package()\n"
        "print(sorted({'tensorflow', 'keras', 'keras_hub'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
