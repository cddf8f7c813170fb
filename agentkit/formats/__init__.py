"""Function-calling dialects: render tools, calls and results as chat text, parse replies back."""

from agentkit.formats._base import ToolChoice, ToolFormat
from agentkit.formats._parse import CallScanner, ParsedReply, parse_reply
from agentkit.formats.hermes import HermesFormat
from agentkit.formats.smollm import SmolLM2Format
from agentkit.formats.stablelm import StableLMFormat

__all__ = [
    "CallScanner",
    "HermesFormat",
    "ParsedReply",
    "SmolLM2Format",
    "StableLMFormat",
    "ToolChoice",
    "ToolFormat",
    "parse_reply",
]
