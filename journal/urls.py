from django.urls import path

from journal import views

urlpatterns = [
    path("", views.journal_list, name="journal"),
    path("export.csv", views.journal_export, name="journal_export"),
]
