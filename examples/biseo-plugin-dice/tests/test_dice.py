"""Tests for the dice plugin, using the fixtures Biseo ships (tool_runner, tool_contract)."""

from __future__ import annotations

import importlib.metadata
import random

import biseo_plugin_dice
from assistant.testing import load_plugin
from biseo_plugin_dice import roll_dice


def test_contract(tool_contract):
    spec = tool_contract(roll_dice)
    assert spec.name == "roll_dice"
    assert not spec.side_effects and not spec.network


def test_rolls_are_repeatable_with_a_seed(tool_runner, monkeypatch):
    monkeypatch.setattr(biseo_plugin_dice, "rng", random.Random(42))
    outcome = tool_runner(roll_dice, sides=20, count=3)
    expected = random.Random(42)
    rolls = [expected.randint(1, 20) for _ in range(3)]
    assert outcome.ok
    assert outcome.output == f"rolled 3d20: {', '.join(map(str, rolls))} (total {sum(rolls)})"


def test_one_die_by_default(tool_runner):
    outcome = tool_runner(roll_dice)
    assert outcome.ok and outcome.output.startswith("rolled a d6: ")
    assert 1 <= int(outcome.output.rsplit(" ", 1)[-1]) <= 6


def test_bad_arguments_give_a_clear_error(tool_runner):
    outcome = tool_runner(roll_dice, sides=1)
    assert not outcome.ok and "sides" in outcome.output
    outcome = tool_runner(roll_dice, count="many")
    assert not outcome.ok and "count" in outcome.output


def test_registers_as_a_plugin():
    info = load_plugin(biseo_plugin_dice, name="dice")
    assert info.status == "loaded", info.error
    assert info.tools == ["roll_dice"]


def test_entry_point_is_installed():
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="biseo.plugins")}
    assert names.get("dice") == "biseo_plugin_dice", "run: pip install -e examples/biseo-plugin-dice"
