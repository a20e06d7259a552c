"""Pilot pages (board)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
