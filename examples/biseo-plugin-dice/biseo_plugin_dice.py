"""A Biseo plugin with one tool: roll dice."""

from __future__ import annotations

import random
from typing import Annotated, Any, Callable

from pydantic import Field

from assistant.api import Permissions, hookimpl, tool

# What the plugin may do: no files, no network, no side effects (enforced; see "Permissions").
PERMISSIONS = Permissions(files="none", network=False, side_effects=False)

# Module-level so tests can swap in random.Random(seed) for repeatable rolls.
rng = random.Random()


@tool(examples=[
    ("roll a die", {}),
    ("roll two d20", {"sides": 20, "count": 2}),
    ("throw three dice", {"count": 3}),
    ("roll a 12-sided die", {"sides": 12}),
])
def roll_dice(
    sides: Annotated[int, Field(ge=2, le=1000, description="Faces on each die (6 for a normal die)")] = 6,
    count: Annotated[int, Field(ge=1, le=100, description="How many dice to roll")] = 1,
) -> str:
    """Roll one or more dice and tell each result and the total."""
    rolls = [rng.randint(1, sides) for _ in range(count)]
    if count == 1:
        return f"rolled a d{sides}: {rolls[0]}"
    return f"rolled {count}d{sides}: {', '.join(map(str, rolls))} (total {sum(rolls)})"


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    register(roll_dice)
