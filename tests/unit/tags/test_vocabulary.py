"""The tag vocabulary: generated from WordNet 3.0 (regenerated and compared where WordNet is
installed: `make wordnet`), and how queries are read against it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.assets import build_tag_vocabulary as generator
from gateway.models.tag_vocabulary import TagVocabulary, vocabulary

ASSET = Path(generator.__file__).with_name("tag_vocabulary.json")


@pytest.mark.skipif(
    not (generator.WORDNET_DIR / "data.noun").exists(),
    reason="WordNet 3.0 is not installed (make wordnet)",
)
def test_the_committed_vocabulary_is_what_the_generator_makes_from_wordnet() -> None:
    made = generator.render(generator.build(generator.WORDNET_DIR, generator.imagenet_classes()))
    assert made == ASSET.read_text(), "regenerate: make tag-vocabulary"


def test_every_imagenet_class_is_a_tag_with_its_hypernyms_up_to_sensible_roots() -> None:
    words = vocabulary()
    assert len(words) == 1000 and len(set(words.class_names)) == 1000
    tabby = words.class_names.index("tabby")
    assert words.class_ids[tabby] == "n02123045"
    over = words.class_tags[tabby]
    assert over[0] == "tabby"  # the most specific first
    assert {"domestic cat", "cat", "feline", "carnivore", "mammal", "animal"} <= set(over)
    assert not {"entity", "object", "organism", "whole"} & set(over)
    # Two ImageNet classes named crane: each tag name is unique.
    assert {"crane (wading bird)", "crane (lifting device)"} <= set(words.tag_classes)


def test_words_are_matched_longest_first_with_plurals_and_stop_words_ignored() -> None:
    words = vocabulary()
    parsed = words.parse("Big cats and a coffee mug")
    assert [(m.word, m.tags) for m in parsed.matches] == [
        ("big cats", ("big cat",)),
        ("coffee mug", ("coffee mug",)),
    ]
    assert words.parse("a red ladybird on a green leaf").unknown == ["red", "green", "leaf"]
    assert words.parse("ladybird").tags == ["ladybug"]
    assert words.parse("!!! ...").matches == ()
    assert words.parse("Katze und Hund").tags == []


def test_a_word_means_its_first_three_noun_senses_that_have_classes() -> None:
    data = json.loads(ASSET.read_text())
    assert data["senses_per_word"] == 3
    words = TagVocabulary(data)
    cat_classes = words.classes_under(words.parse("cat").tags)
    assert words.class_names.index("tabby") in cat_classes
    assert words.class_names.index("tiger") not in cat_classes  # a big cat, not sense 1-3
    assert words.classes_under(words.parse("animal").tags) > cat_classes
