"""Your own toolbox, built like the ready-made ones, and used beside them.

A toolbox module is a `Toolbox` named `toolbox` (or a `default_toolbox()` function): the command
line then takes it by file or module name:

    agentkit schema examples/custom_toolbox.py
    agentkit chat --tools examples/custom_toolbox.py calculator units

Bound every argument (`Field(ge=..., le=..., max_length=...)`: the model sees the bounds and
they are checked before the function runs), refuse bad input with an error deriving from
`agentkit.errors.AgentkitError` whose message tells the model what to do instead, and keep
results small. Run: `python -m examples.custom_toolbox`.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from agentkit_tools.calculator import calculate
from agentkit_tools.units import convert
from pydantic import Field

from agentkit import Agent, Toolbox
from agentkit.errors import AgentkitError
from agentkit.models import ScriptedModel

toolbox = Toolbox()

_STOCK = {"lamp": 12, "desk": 0, "chair": 40}


class OutOfStock(AgentkitError, ValueError):
    """The item cannot be ordered now."""


@toolbox.tool
def stock(item: Annotated[str, Field(max_length=40)]) -> int:
    """How many of an item are in stock.

    Args:
        item: the item's name, e.g. "lamp".
    """
    if item not in _STOCK:
        raise ValueError(f"unknown item {item!r}; items: {', '.join(_STOCK)}")
    return _STOCK[item]


@toolbox.tool
def order(
    item: Annotated[str, Field(max_length=40)],
    quantity: Annotated[int, Field(ge=1, le=10)] = 1,
    speed: Literal["standard", "express"] = "standard",
) -> str:
    """Order an item.

    Args:
        item: the item's name.
        quantity: how many (1 to 10).
        speed: how fast to ship.
    """
    if stock(item) < quantity:
        raise OutOfStock(f"only {stock(item)} {item} in stock: order fewer or another item")
    return f"ordered {quantity} {item} ({speed})"


def call(name: str, **arguments: object) -> str:
    return json.dumps([{"name": name, "arguments": arguments}])


def main() -> None:
    print("tools:", ", ".join(s["function"]["name"] for s in toolbox.schemas()))
    script = [
        call("order", item="desk", quantity=2),
        call("order", item="lamp", quantity=50),
        call("order", item="lamp", quantity=2, speed="express"),
        call("convert", value=1.2, from_unit="m", to_unit="inch"),
        call("calculate", expression="2 * 12.99"),
        "Ordered 2 lamps (express, 47.24 inches tall each), 25.98 in all; desks are sold out.",
    ]
    agent = Agent(ScriptedModel(script), tools=[*toolbox, convert, calculate], max_steps=8)
    result = agent.run("Two desks please, or else two lamps, express. How tall is a lamp?")
    for event in result.tool_calls:
        print(f"{event.name}{event.arguments} -> {event.error or event.content}")
    print(f"answer: {result.output}")
    print(f"failed turns: {result.usage.failed_turns}")


if __name__ == "__main__":
    main()
