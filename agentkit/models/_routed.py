"""A routed turn of a local model: the tools its prompt lists, its tool choice, its calls."""

from __future__ import annotations

from agentkit.messages import last_user_message
from agentkit.models._base import ModelRequest
from agentkit.models.routing import Router, _route_choice
from agentkit.models.shaping import CallShaping, PlannedCall, display_tool, plan_calls

__all__ = ["routed_request"]


def routed_request(
    router: Router, shaping: CallShaping, request: ModelRequest
) -> tuple[ModelRequest, list[PlannedCall]]:
    """The request as the router decides it, and the calls the reply must hold (if planned).

    The prompt then lists only the tools of the decision (those planned; on an answer turn,
    those already called), which keeps a small model from copying other tools' arguments,
    shortens the prompt, and keeps the prefix stable across the run's turns for the cache.
    With call shaping, the reply must hold exactly the planned calls; when nothing the request
    says can fill them, the turn is a text answer.
    """
    choice = _route_choice(router, request.transcript, request.tools)
    if choice == "auto":
        return request, []
    if choice == "none":
        called = {c.name for m in request.transcript for c in m.tool_calls}
        shown = [t for t in request.tools if t.name in called]
        return request.replace(tools=shown, tool_choice=choice), []
    user, _ = last_user_message(request.transcript)
    planned: list[PlannedCall] = []
    if user is not None and shaping != CallShaping.off():
        tools = request.tools
        planned = plan_calls(
            user.content, tools, choice, lambda text: router.route(text, tools), shaping
        )
        if not planned:
            return request.replace(tools=[], tool_choice="none"), []
    names = {p.tool.name for p in planned} or {choice}
    shown = [t for t in request.tools if t.name in names]
    if shaping.hide_examples:
        shown = [display_tool(t) for t in shown]
    tool_choice = choice if len(names) == 1 else "required"
    return request.replace(tools=shown, tool_choice=tool_choice), planned
