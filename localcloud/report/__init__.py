"""Reports the local cloud renders from what a workflow left behind (e.g. a warehouse)."""
