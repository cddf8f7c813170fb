"""The command line's parts: tool and model specs, output, the chat session, the parser."""
