"""`make fuzz` at a budget CI can afford, and what the fuzzer's valid data rests on: the schema's
amount admits exactly the amounts a create takes, and the hooks' control key passes the check."""

import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from fuzz import hooks
from fuzz import run as fuzz
from payouts.models import Organization
from payouts.recipients import validate_ru_account
from tests.payouts.factories import VALID_ACCOUNT, OrganizationFactory, client_for, fund

# A budget of about a minute, the stack's start included; a database and a Redis database of the
# test's own, so that it never meets a `make fuzz` running at the same time.
CI_BUDGET = fuzz.Budget(requests=300)
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/payouts_fuzz_test"
REDIS_URL = "redis://127.0.0.1:6379/15"
KEYS = itertools.count()


@pytest.mark.e2e
def test_fuzzing_the_live_app_finds_no_5xx_and_no_response_the_schema_does_not_describe(
    tmp_path: Path,
) -> None:
    # given the stack `make fuzz` starts, with a CI budget
    # when schemathesis runs against it
    outcome = fuzz.run(CI_BUDGET, database_url=DATABASE_URL, redis_url=REDIS_URL, work_dir=tmp_path)

    # then
    assert outcome.ok, outcome.table()
    assert outcome.requests >= CI_BUDGET.requests
    assert outcome.creates > 0


# --- What the fuzzer's valid creates rest on ---------------------------------------------------


@pytest.fixture
def funded_api(db: Any) -> APIClient:
    organization: Organization = OrganizationFactory(inn="7707083893")
    fund(organization, "100000000000.00", "RUB")
    return client_for(organization)


def amount_schema() -> dict[str, Any]:
    """The create's amount in the OpenAPI schema, generated as `/api/schema/` serves it."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    schema: dict[str, Any] = document["components"]["schemas"]["PayoutCreateRequest"]["properties"]["amount"]
    return schema


def _boundaries() -> list[int]:
    maximum = int(settings.PAYOUT_MAX_AMOUNT)
    return [0, 1, 9, 10, maximum - 1, maximum, maximum + 1, 10 * maximum]


@st.composite
def amounts(draw: st.DrawFn) -> str | int:
    """Decimal strings in AmountField's grammar (leading zeros, any number of places) and JSON
    integers, crowded at the boundaries: zero, one, the maximum."""
    whole = draw(st.sampled_from(_boundaries()) | st.integers(min_value=0, max_value=10**12))
    if draw(st.booleans()):
        return whole
    fraction = draw(st.text(alphabet="0123456789", max_size=4))
    leading = "0" * draw(st.integers(min_value=0, max_value=2))
    return f"{leading}{whole}.{fraction}" if fraction else f"{leading}{whole}"


@hypothesis_settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(amount=amounts())
def test_the_schemas_amount_admits_exactly_the_amounts_a_create_takes(
    funded_api: APIClient, amount: str | int
) -> None:
    # given the amount's schema
    schema = amount_schema()
    admitted = jsonschema.Draft4Validator(schema).is_valid(amount)

    # when a create sends the amount
    body = {"amount": amount, "currency": "RUB", "recipient": dict(VALID_ACCOUNT)}
    response = funded_api.post("/api/payouts/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"k-{next(KEYS)}")

    # then the schema admits it if and only if the create takes it
    assert (response.status_code == 201) == admitted, (amount, response.json())
    if not admitted:
        assert response.status_code == 400
        assert set(response.json()["error"]["details"]) == {"amount"}


def test_the_schemas_amount_is_read_from_the_settings(settings: Any) -> None:
    # given a smaller maximum and a currency without minor units only
    settings.PAYOUT_MAX_AMOUNT = Decimal("250")
    settings.PAYOUT_CURRENCIES = ["JPY"]

    # when
    schema = amount_schema()

    # then
    validator = jsonschema.Draft4Validator(schema)
    assert [validator.is_valid(a) for a in ["250", "0250", "251", "249.5", 250, 251]] == [
        True,
        True,
        False,
        False,
        True,
        False,
    ]


@given(
    account=st.text(alphabet="0123456789", min_size=20, max_size=20),
    bic=st.text(alphabet="0123456789", min_size=7, max_size=7).map(lambda tail: "04" + tail),
)
def test_the_hooks_control_key_passes_the_check_and_changes_only_the_control_digit(
    account: str, bic: str
) -> None:
    # when
    keyed = hooks.control_keyed(account, bic)

    # then
    validate_ru_account(keyed, bic)
    assert [i for i, (a, b) in enumerate(zip(account, keyed, strict=True)) if a != b] in ([], [8])
