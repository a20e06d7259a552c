"""Pilot pages (board): the leaderboard, a pilot's profile, the subscribe button."""

from django.urls import path

from pilots.board import views

urlpatterns = [
    path("pilots/", views.board, name="pilot_board"),
    path("pilots/<int:pilot_id>/", views.profile, name="pilot_profile"),
    path("pilots/<int:pilot_id>/subscribe/", views.subscribe, name="pilot_subscribe"),
]
