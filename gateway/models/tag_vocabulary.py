"""The tag vocabulary: ImageNet's 1,000 classes as WordNet 3.0 synsets, their hypernyms, and
the words that name them (generated once by gateway/assets/build_tag_vocabulary.py from
WordNet; the gateway reads only the generated file, shipped in the package).

A tag is a synset: a class itself (tabby) or one of its hypernyms (domestic cat, cat, feline,
carnivore, mammal, animal). A word means its first three WordNet noun senses; a query's words
are matched longest first ("measuring cup" before "cup"), so a phrase WordNet knows counts
as one word.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

ASSET = "tag_vocabulary.json"
# The longest WordNet lemma a query phrase is matched against, in words.
MAX_PHRASE_WORDS = 4
# Words that never name a thing in a query ("a red ladybird on a green leaf").
STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "on",
        "in",
        "at",
        "to",
        "with",
        "without",
        "by",
        "for",
        "from",
        "into",
        "onto",
        "over",
        "under",
        "near",
        "some",
        "any",
        "this",
        "that",
        "these",
        "those",
        "my",
        "your",
        "our",
        "their",
        "his",
        "her",
        "its",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "photo",
        "photos",
        "picture",
        "pictures",
        "image",
        "images",
        "shot",
        "shots",
    }
)
_TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


@dataclass(frozen=True)
class WordMatch:
    """A query word (or phrase) and the tags its senses name ([] if none)."""

    word: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class ParsedQuery:
    matches: tuple[WordMatch, ...]

    @property
    def tags(self) -> list[str]:
        """Every tag the known words name, once each, in query order."""
        return list(dict.fromkeys(t for m in self.matches for t in m.tags))

    @property
    def unknown(self) -> list[str]:
        return [m.word for m in self.matches if not m.tags]


class TagVocabulary:
    def __init__(self, data: dict[str, object]) -> None:
        classes = data["classes"]
        tags = data["tags"]
        words = data["words"]
        assert isinstance(classes, list) and isinstance(tags, dict) and isinstance(words, dict)
        # Per class index: its synset id and tag name.
        self.class_ids: list[str] = [str(c[0]) for c in classes]
        self.class_names: list[str] = [str(c[1]) for c in classes]
        # Per tag: the class indices under it (the class itself included).
        self.tag_classes: dict[str, tuple[int, ...]] = {
            name: tuple(entry["classes"]) for name, entry in tags.items()
        }
        self.tag_synsets: dict[str, str] = {name: entry["synset"] for name, entry in tags.items()}
        self.words: dict[str, tuple[str, ...]] = {w: tuple(t) for w, t in words.items()}
        # Per class index: every tag over it, the most specific (fewest classes) first.
        over: list[list[str]] = [[] for _ in classes]
        for name, under in self.tag_classes.items():
            for index in under:
                over[index].append(name)
        self.class_tags: list[tuple[str, ...]] = [
            tuple(sorted(names, key=lambda n: (len(self.tag_classes[n]), n))) for names in over
        ]

    @classmethod
    def from_package(cls) -> TagVocabulary:
        text = resources.files("gateway").joinpath("assets", ASSET).read_text("utf-8")
        return cls(json.loads(text))

    def __len__(self) -> int:
        return len(self.class_ids)

    def parse(self, query: str) -> ParsedQuery:
        """The query's words, each matched longest first against the vocabulary; stop-words
        and words of no letters are dropped."""
        tokens = _TOKEN.findall(query.lower())
        matches: list[WordMatch] = []
        at = 0
        while at < len(tokens):
            for size in range(min(MAX_PHRASE_WORDS, len(tokens) - at), 0, -1):
                phrase = " ".join(tokens[at : at + size])
                tags = self.words.get(phrase) or self.words.get(phrase.replace("-", " "))
                if tags:
                    matches.append(WordMatch(phrase, tags))
                    at += size
                    break
            else:
                word = tokens[at]
                if word not in STOP_WORDS and not word.isdigit():
                    matches.append(WordMatch(word, ()))
                at += 1
        return ParsedQuery(tuple(matches))

    def classes_under(self, tags: list[str]) -> set[int]:
        return {index for tag in tags for index in self.tag_classes.get(tag, ())}


@cache
def vocabulary() -> TagVocabulary:
    """The packaged vocabulary, read once per process."""
    return TagVocabulary.from_package()
