"""SSRF: outside development an endpoint must be https and public, at registration and at every
delivery."""

from typing import Any

import pytest

from payouts.errors import EndpointUrlRefused
from payouts.models import Organization, PayoutStatus, WebhookAttempt, WebhookEndpoint
from payouts.notifications import delivery
from payouts.notifications.addresses import AddressRefused, delivery_target, url_checked
from payouts.notifications.endpoints import endpoint_create, secret_new
from payouts.transitions import Actor, payout_transition
from tests.payouts.factories import OrganizationFactory, PayoutFactory

REFUSED = [
    "http://93.184.215.14/hook",  # not https
    "https://127.0.0.1/hook",
    "https://localhost/hook",  # a name that resolves to 127.0.0.1
    "https://10.1.2.3/hook",
    "https://192.168.0.10/hook",
    "https://172.16.5.4/hook",
    "https://169.254.169.254/latest/meta-data/",  # the cloud metadata service
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",  # IPv4 inside IPv6
    "https://[fd00::1]/hook",
    "https://0.0.0.0/hook",
    "https://100.64.0.1/hook",  # shared address space
    "https://user:secret@93.184.215.14/hook",  # credentials
    "https://no-such-host.invalid/hook",
    "ftp://93.184.215.14/hook",
]


@pytest.fixture
def production_addresses(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False


@pytest.mark.django_db
@pytest.mark.usefixtures("production_addresses")
@pytest.mark.parametrize("url", REFUSED)
def test_registration_refuses_a_url_that_is_not_https_to_a_public_address(url: str) -> None:
    with pytest.raises(EndpointUrlRefused):
        endpoint_create(organization=OrganizationFactory(), url=url, enabled_events=["*"])
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.usefixtures("production_addresses")
def test_a_public_address_is_accepted_and_a_delivery_is_pinned_to_it() -> None:
    url_checked("https://93.184.215.14:8443/hook?x=1")

    target = delivery_target("https://93.184.215.14:8443/hook?x=1")

    assert target.url == "https://93.184.215.14:8443/hook?x=1"
    assert target.host_header == "93.184.215.14:8443"


@pytest.mark.django_db
@pytest.mark.usefixtures("production_addresses")
def test_a_delivery_checks_again_and_sends_nothing_to_a_private_address() -> None:
    # given an endpoint whose host now resolves to this machine (its name changed since it was
    # registered): written directly, as registration would refuse it today
    organization: Organization = OrganizationFactory()
    endpoint = WebhookEndpoint.objects.create(
        organization=organization, url="https://localhost/hook", enabled_events=["*"], secret=secret_new()
    )
    payout = PayoutFactory(organization=organization, status=PayoutStatus.SUBMITTED)
    payout_transition(payout_id=payout.pk, to_status=PayoutStatus.PAID, actor=Actor.BANK)

    delivery.events_fan_out()
    delivery.endpoint_deliver(endpoint_id=endpoint.pk)

    attempts = list(WebhookAttempt.objects.all())
    assert attempts
    assert all(a.status_code is None and a.error.startswith("refused:") for a in attempts)


def test_development_allows_http_on_this_machine(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    url_checked("http://127.0.0.1:8000/dev/webhook-inbox/")
    with pytest.raises(AddressRefused):
        url_checked("ftp://127.0.0.1/")
