"""Generated run names: ``<adjective>-<noun>-<n>``, as MLflow users are used to seeing."""

from __future__ import annotations

import random

_ADJECTIVES = (
    "able", "agile", "amber", "ample", "bold", "brave", "bright", "brisk", "calm", "clever", "crisp",
    "curious", "dapper", "daring", "eager", "early", "fair", "fancy", "fleet", "fresh", "gentle", "glad",
    "grand", "happy", "hearty", "honest", "humble", "jolly", "keen", "kind", "lively", "loyal", "lucid",
    "merry", "mighty", "modest", "noble", "placid", "polite", "proud", "quick", "quiet", "rapid", "rare",
    "ruddy", "sassy", "serene", "sharp", "shiny", "silent", "sleek", "smooth", "snappy", "steady", "sunny",
    "swift", "tidy", "tranquil", "upbeat", "valiant", "vivid", "warm", "wise", "witty", "zesty",
)
_NOUNS = (
    "otter", "heron", "river", "delta", "brook", "creek", "salmon", "trout", "willow", "reed", "pebble",
    "beaver", "kingfisher", "current", "eddy", "rapids", "estuary", "lagoon", "marsh", "harbor", "canyon",
    "valley", "ridge", "meadow", "falcon", "badger", "lynx", "panda", "fox", "owl", "wren", "finch",
    "sparrow", "crane", "swan", "duck", "frog", "newt", "moose", "elk", "bison", "hare", "mole", "vole",
    "stream", "spring", "cascade", "fjord", "bay", "inlet", "tide", "wave", "shoal", "isle", "comet",
)


def generate_run_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(0, 999)}"
