"""Copytrade project package: settings, URLs, ASGI entry point, Celery app."""

from copytrade.celery import app as celery_app

__all__ = ("celery_app",)
