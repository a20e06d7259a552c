"""Pilot pages (follow): plans, subscriptions, publishing a pilot."""

from django.urls import URLPattern, path

from pilots import views_follow as views

urlpatterns: list[URLPattern] = [
    path("plans/", views.plans, name="plans"),
    path("subscriptions/", views.subscriptions, name="subscriptions"),
    path(
        "subscriptions/<int:subscription_id>/mirror/",
        views.subscription_mirror_view,
        name="subscription_mirror",
    ),
    path(
        "subscriptions/<int:subscription_id>/end/",
        views.subscription_end_view,
        name="subscription_end",
    ),
    path("pilots/publish/", views.publish, name="pilot_publish"),
    path("pilots/mine/", views.my_pilots, name="my_pilots"),
]
