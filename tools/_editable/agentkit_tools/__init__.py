"""`agentkit_tools` in an editable install: the repository's `tools/` directory, live.

A wheel ships `tools/` under the name `agentkit_tools` (a top-level `tools` package would clash
with other projects). An editable install puts this directory on `sys.path` instead, and this
package takes its modules from `tools/` itself, so edits there need no reinstall.
"""

from pathlib import Path

__path__ = [str(Path(__file__).resolve().parent.parent.parent)]
