"""The simulated bank mounted as config/urls.py mounts it, without the rest of the service."""

from django.urls import include, path

urlpatterns = [path("fake-bank/", include("fake_bank.urls"))]
