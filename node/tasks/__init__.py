"""Celery app factory and thin task wrappers around service functions."""
