from django.urls import path

from journal import views

urlpatterns = [path("", views.journal_list, name="journal")]
