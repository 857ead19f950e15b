"""Supervision (电子监察): lights, overdue and yellow lists, counts, timelines."""
