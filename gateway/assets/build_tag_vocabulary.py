"""Generates `gateway/assets/tag_vocabulary.json` from WordNet 3.0 and the ImageNet class list.

Run once, commit the output: `python -m gateway.assets.build_tag_vocabulary` (or `make
tag-vocabulary`). The gateway reads only the generated file, never WordNet.

ImageNet-1k's classes are WordNet 3.0 noun synsets (class id `n01440764` is the noun at
offset 01440764), so each class's hypernyms give it broader names: tabby, domestic cat, cat,
feline, carnivore, mammal, animal. Inputs:
- the 1,000 class ids in the order the classifiers output them, from keras-hub (installed);
- WordNet 3.0's database files (`data.noun`, `index.noun`, `noun.exc`), as Debian's
  `wordnet-base` package installs them under /usr/share/wordnet (`--wordnet DIR` elsewhere).
WordNet's licence ships beside the output (`LICENSE-WordNet.txt`).

The output holds:
- `classes`: per class index, its synset id and its tag name;
- `tags`: every synset that is a class or a hypernym of one (short of the roots too general
  to say anything, `ROOTS`), by tag name: its synset id and the class indices under it;
- `words`: every noun lemma (lower case, spaces) and its plural whose first three WordNet
  senses include such a synset, with the tag names of those senses, most frequent first.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

WORDNET_DIR = Path("/usr/share/wordnet")
OUTPUT = Path(__file__).with_name("tag_vocabulary.json")
# How many of a word's noun senses, most frequent first, a word stands for.
SENSES_PER_WORD = 3
# Synsets so general that a photo tagged with them says nothing (and every photo would be).
ROOTS = frozenset(
    {
        "entity",
        "physical entity",
        "abstraction",
        "object",
        "whole",
        "matter",
        "substance",
        "solid",
        "living thing",
        "organism",
        "causal agent",
        "artifact",
        "instrumentality",
        "thing",
        "part",
        "unit",
        "group",
        "attribute",
        "relation",
        "measure",
        "psychological feature",
        "event",
        "act",
        "communication",
        "location",
        "geological formation",
        "natural object",
        "commodity",
        "covering",
        "implement",
        "equipment",
        "material",
        "social group",
        "collection",
    }
)


@dataclass
class Synset:
    offset: str
    lemmas: list[str]
    hypernyms: list[str] = field(default_factory=list)

    @property
    def wnid(self) -> str:
        return f"n{self.offset}"

    @property
    def head(self) -> str:
        return _word(self.lemmas[0])


def _word(lemma: str) -> str:
    """WordNet's `domestic_cat` or `German_shepherd(a)` as a tag word: `domestic cat`."""
    return lemma.split("(")[0].replace("_", " ").lower().strip()


def read_nouns(wordnet: Path) -> dict[str, Synset]:
    """data.noun: `offset lex ss_type w_cnt (word lex_id)* p_cnt (sym offset pos st)* | gloss`."""
    synsets: dict[str, Synset] = {}
    for line in (wordnet / "data.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith(" "):  # the licence header
            continue
        fields = line.split(" | ")[0].split()
        offset, count = fields[0], int(fields[3], 16)
        lemmas = fields[4 : 4 + 2 * count : 2]
        at = 4 + 2 * count
        pointers = int(fields[at])
        synset = Synset(offset, lemmas)
        for p in range(pointers):
            symbol, target, pos = fields[at + 1 + 4 * p : at + 4 + 4 * p]
            if symbol in ("@", "@i") and pos == "n":
                synset.hypernyms.append(target)
        synsets[offset] = synset
    return synsets


def read_senses(wordnet: Path) -> dict[str, list[str]]:
    """index.noun: `lemma pos synset_cnt p_cnt (sym)* sense_cnt tagsense_cnt (offset)*`,
    the offsets most frequent sense first."""
    senses: dict[str, list[str]] = {}
    for line in (wordnet / "index.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith(" "):
            continue
        fields = line.split()
        count, pointers = int(fields[2]), int(fields[3])
        offsets = fields[4 + pointers + 2 :]
        assert len(offsets) == count, line
        senses[_word(fields[0])] = offsets
    return senses


def read_plurals(wordnet: Path) -> dict[str, list[str]]:
    """noun.exc: `inflected base...`: the irregular plurals of each base form."""
    plurals: dict[str, list[str]] = {}
    for line in (wordnet / "noun.exc").read_text(encoding="latin-1").splitlines():
        inflected, *bases = line.split()
        for base in bases:
            plurals.setdefault(_word(base), []).append(_word(inflected))
    return plurals


def regular_plural(word: str) -> str:
    *head, last = word.split(" ")
    if last.endswith(("s", "x", "z", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return " ".join([*head, last])


def imagenet_classes() -> list[str]:
    """The 1,000 class synset ids in the classifiers' output order."""
    from keras_hub.src.utils.imagenet.imagenet_utils import IMAGENET_NAMES

    return [IMAGENET_NAMES[index][0] for index in range(len(IMAGENET_NAMES))]


def ancestors(offset: str, synsets: dict[str, Synset]) -> set[str]:
    """`offset` and every hypernym above it (WordNet nouns form a DAG: some have two)."""
    seen: set[str] = set()
    todo = [offset]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(synsets[current].hypernyms)
    return seen


def tag_names(offsets: Iterable[str], synsets: dict[str, Synset]) -> dict[str, str]:
    """A unique tag name per synset: its first lemma, or where two synsets share one (crane
    the bird, crane the machine), that lemma with its first hypernym's: `crane (wading bird)`,
    or with its synset id where that is shared too."""
    offsets = sorted(offsets)
    heads: dict[str, list[str]] = {}
    for offset in offsets:
        heads.setdefault(synsets[offset].head, []).append(offset)
    names: dict[str, str] = {}
    for head, sharing in heads.items():
        for offset in sharing:
            if len(sharing) == 1:
                names[offset] = head
                continue
            parents = synsets[offset].hypernyms
            parent = synsets[parents[0]].head if parents else offset
            names[offset] = f"{head} ({parent})"
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    # Two senses with one head and one hypernym's head too: only the synset id tells them apart.
    return {
        o: (name if counts[name] == 1 else f"{synsets[o].head} ({synsets[o].wnid})")
        for o, name in names.items()
    }


def build(wordnet: Path, classes: list[str]) -> dict[str, object]:
    synsets = read_nouns(wordnet)
    under: dict[str, list[int]] = {}
    for index, wnid in enumerate(classes):
        for offset in ancestors(wnid[1:], synsets):
            if synsets[offset].head not in ROOTS or offset == wnid[1:]:
                under.setdefault(offset, []).append(index)
    names = tag_names(under, synsets)
    words: dict[str, list[str]] = {}
    senses = read_senses(wordnet)
    for word, offsets in senses.items():
        tagged = [names[o] for o in offsets[:SENSES_PER_WORD] if o in under]
        if tagged:
            words[word] = tagged
    irregular = read_plurals(wordnet)
    for word in list(words):
        for plural in [*irregular.get(word, []), regular_plural(word)]:
            # A plural that is a lemma of its own (glasses, arms) keeps its own senses.
            if plural not in senses:
                words.setdefault(plural, words[word])
    return {
        "source": "WordNet 3.0 (Princeton University) and the ImageNet-1k class list",
        "senses_per_word": SENSES_PER_WORD,
        "classes": [[wnid, names[wnid[1:]]] for wnid in classes],
        "tags": {
            names[o]: {"synset": synsets[o].wnid, "classes": sorted(under[o])}
            for o in sorted(under, key=lambda o: names[o])
        },
        "words": dict(sorted(words.items())),
    }


def render(vocabulary: dict[str, object]) -> str:
    """One tag or word a line: small diffs when WordNet or the rules change."""
    lines = ["{"]
    items = list(vocabulary.items())
    for position, (key, value) in enumerate(items):
        comma = "," if position < len(items) - 1 else ""
        if isinstance(value, dict):
            entries = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items()]
            lines.append(f"{json.dumps(key)}: {{\n" + ",\n".join(entries) + f"\n}}{comma}")
        elif isinstance(value, list):
            entries = [f"  {json.dumps(v)}" for v in value]
            lines.append(f"{json.dumps(key)}: [\n" + ",\n".join(entries) + f"\n]{comma}")
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(value)}{comma}")
    return "\n".join(lines) + "\n}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", type=Path, default=WORDNET_DIR)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    if not (args.wordnet / "data.noun").exists():
        raise SystemExit(
            f"no WordNet 3.0 database in {args.wordnet}: `apt-get install wordnet-base` "
            "(or `make wordnet`)"
        )
    args.output.write_text(render(build(args.wordnet, imagenet_classes())))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
