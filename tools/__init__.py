"""Ready-made tools built with `agentkit.tool`: small, safe and tested."""
