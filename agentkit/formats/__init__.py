"""Function-calling dialects: render tools, calls and results as chat text, parse replies back."""

from agentkit.formats._base import ToolChoice, ToolFormat
from agentkit.formats._parse import ParsedReply, parse_reply
from agentkit.formats.hermes import HermesFormat
from agentkit.formats.stablelm import StableLMFormat

__all__ = [
    "HermesFormat",
    "ParsedReply",
    "StableLMFormat",
    "ToolChoice",
    "ToolFormat",
    "parse_reply",
]
