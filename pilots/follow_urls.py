"""Pilot pages (follow)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
