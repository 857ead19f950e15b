"""Yiwang node: the software one government service hall runs, at any level."""
