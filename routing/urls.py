from django.urls import path

from routing import (
    flatten_views,
    performance_views,
    position_views,
    settings_views,
    upload_views,
    views,
)
from routing.webhooks import pages as webhook_pages

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("groups/new/", views.group_create, name="group_create"),
    path("groups/<int:group_id>/", views.group_detail, name="group_detail"),
    path("groups/<int:group_id>/edit/", views.group_edit, name="group_edit"),
    path("groups/<int:group_id>/pause/", views.group_pause, name="group_pause"),
    path("groups/<int:group_id>/resume/", views.group_resume, name="group_resume"),
    path("groups/<int:group_id>/delete/", views.group_delete, name="group_delete"),
    path(
        "groups/<int:group_id>/followers/add/",
        views.group_follower_add,
        name="group_follower_add",
    ),
    path(
        "groups/<int:group_id>/followers/<int:follower_id>/pause/",
        views.group_follower_pause,
        name="group_follower_pause",
    ),
    path(
        "groups/<int:group_id>/followers/<int:follower_id>/resume/",
        views.group_follower_resume,
        name="group_follower_resume",
    ),
    path(
        "groups/<int:group_id>/followers/<int:follower_id>/positions/close/",
        position_views.position_close_view,
        name="position_close",
    ),
    path(
        "groups/<int:group_id>/followers/<int:follower_id>/positions/untrack/",
        position_views.position_untrack_view,
        name="position_untrack",
    ),
    path("groups/<int:group_id>/budget/", views.group_budget, name="group_budget"),
    path(
        "groups/<int:group_id>/performance/",
        performance_views.group_performance,
        name="group_performance",
    ),
    path("groups/<int:group_id>/level/", views.group_level, name="group_level"),
    path("groups/<int:group_id>/review/", views.group_review, name="group_review"),
    path(
        "groups/<int:group_id>/followers/<int:follower_id>/limits/",
        settings_views.follower_limits,
        name="follower_limits",
    ),
    path(
        "groups/<int:group_id>/followers/<int:follower_id>/settings/",
        settings_views.follower_settings,
        name="follower_settings",
    ),
    path(
        "groups/<int:group_id>/mappings/",
        settings_views.group_mappings,
        name="group_mappings",
    ),
    path("groups/<int:group_id>/upload/", upload_views.group_upload, name="group_upload"),
    path("groups/<int:group_id>/flatten/", flatten_views.group_flatten, name="group_flatten"),
    path("flatten/", flatten_views.flatten_all, name="flatten_all"),
    path(
        "groups/<int:group_id>/webhook/enable/",
        webhook_pages.webhook_enable_view,
        name="webhook_enable",
    ),
    path(
        "groups/<int:group_id>/webhook/disable/",
        webhook_pages.webhook_disable_view,
        name="webhook_disable",
    ),
    path(
        "groups/<int:group_id>/webhook/rotate/",
        webhook_pages.webhook_rotate_view,
        name="webhook_rotate",
    ),
    path(
        "groups/<int:group_id>/quarantines/<int:quarantine_id>/release/",
        views.quarantine_release_view,
        name="quarantine_release",
    ),
    path(
        "groups/<int:group_id>/desyncs/<int:desync_id>/<str:action>/",
        views.desync_action,
        name="desync_action",
    ),
    path(
        "api/groups/<int:group_id>/snapshot/",
        views.GroupSnapshotApi.as_view(),
        name="group_snapshot",
    ),
    path(
        "api/groups/<int:group_id>/performance/",
        performance_views.GroupPerformanceApi.as_view(),
        name="group_performance_api",
    ),
    path(
        "api/groups/<int:group_id>/equity/",
        performance_views.GroupEquityApi.as_view(),
        name="group_equity_api",
    ),
    path(
        "api/imports/<int:job_id>/",
        upload_views.ImportJobApi.as_view(),
        name="import_job_status",
    ),
]
