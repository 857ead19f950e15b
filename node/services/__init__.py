"""Use cases, one verb each; each runs in exactly one unit of work."""
