"""Organisations, the service's clients, and their API keys."""

from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


class Organization(models.Model):
    """A client of the service, identified by its INN (Russian taxpayer number)."""

    inn = models.CharField(max_length=12, unique=True)
    name = models.CharField(max_length=200)
    default_currency = models.CharField(max_length=3, default="RUB")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.inn})"


class OrganizationAPIKey(AbstractAPIKey):
    """An organisation's API key. Only a hash is stored; the key is shown once, at creation."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "organization API key"
        verbose_name_plural = "organization API keys"
