"""URL confs for the subscribe tests: the site without any page named
``subscriptions`` (the following pages left out), and the site with one."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

import pilots.urls
from copytrade.urls import urlpatterns as site


def _subscriptions(request: HttpRequest) -> HttpResponse:
    return HttpResponse("subscriptions")


# The site with pilots.urls (board + follow) replaced by the board's pages alone.
urlpatterns = [p for p in site if getattr(p, "urlconf_name", None) is not pilots.urls] + [
    path("", include("pilots.board_urls")),
]



class WithSubscriptions:
    """A URL conf (ROOT_URLCONF may be any object with ``urlpatterns``):
    the site with a page named ``subscriptions``."""

    urlpatterns = [
        path("test-subscriptions/", _subscriptions, name="subscriptions"),
        *urlpatterns,
    ]
