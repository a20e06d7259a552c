from django.urls import path

from journal import ledger, review_views, trades_views, views

urlpatterns = [
    path("", views.journal_list, name="journal"),
    path("export.csv", views.journal_export, name="journal_export"),
    path("ledger.csv", ledger.ledger_export, name="ledger_export"),
    path("reviews/", review_views.session_review_edit, name="session_review_edit"),
    path("reviews.csv", review_views.session_review_export, name="session_review_export"),
    path("trades/", trades_views.trade_list, name="trades"),
    path("trades/export.csv", trades_views.trade_export, name="trade_export"),
]
