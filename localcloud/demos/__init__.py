"""Demos: each runs one workflow end to end on the local cloud, as its users would."""
