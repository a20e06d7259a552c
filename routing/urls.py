from django.urls import path

from routing import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("groups/<int:group_id>/", views.group_detail, name="group_detail"),
    path("groups/<int:group_id>/upload/", views.group_upload, name="group_upload"),
    path(
        "api/groups/<int:group_id>/snapshot/",
        views.GroupSnapshotApi.as_view(),
        name="group_snapshot",
    ),
]
