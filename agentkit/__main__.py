"""`python -m agentkit`: the `agentkit` command.

`python -m` puts the current directory first on `sys.path`; it is taken off before the command
imports its libraries, so a file there named like one (`httpx.py`, `torch.py`) is never run.
Tool modules named with `--tools` are still found there, after the libraries.
"""

import os
import sys

_here = os.getcwd()
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

from agentkit.cli import main  # noqa: E402 - after the path is made safe

if __name__ == "__main__":
    sys.exit(main())
