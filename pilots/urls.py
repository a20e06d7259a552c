"""Pilots' pages: the leaderboard and profiles (``board_urls``), and
following, plans and publishing (``follow_urls``)."""

from django.urls import include, path

urlpatterns = [
    path("", include("pilots.board_urls")),
    path("", include("pilots.follow_urls")),
]
