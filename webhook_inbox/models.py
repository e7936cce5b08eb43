from django.db import models


class InboxMessage(models.Model):
    """One webhook that reached the inbox, verified or not."""

    received_at = models.DateTimeField(auto_now_add=True)
    webhook_id = models.CharField(max_length=200, blank=True, default="")
    event_type = models.CharField(max_length=64, blank=True, default="")
    verified = models.BooleanField()
    error = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField()

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.webhook_id} {self.event_type} ({'verified' if self.verified else 'refused'})"
