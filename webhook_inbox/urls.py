"""Mounted at /dev/webhook-inbox/ by config/urls.py when WEBHOOK_INBOX_ENABLED."""

from django.urls import path

from webhook_inbox import views

app_name = "webhook_inbox"
urlpatterns = [
    path("", views.page, name="page"),
    path("receive/", views.receive, name="receive"),
]
