"""The codec contract on generated and mutated inputs: only WireError, and whole == split.

A bounded run on every test run; `python -m tests.wire.codec_fuzz --count 1000000` is the full one.
"""

from __future__ import annotations

import random

import pytest

from tests.wire.codec_fuzz import CASES, check_one

RUNS_PER_CODEC = 1500


@pytest.mark.parametrize("name", sorted(CASES))
def test_whole_and_split_decoding_agree_and_raise_only_wire_errors(name):
    rng = random.Random(f"codec-{name}")
    for _ in range(RUNS_PER_CODEC):
        check_one(name, rng)
