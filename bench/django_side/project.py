"""The bench's Django-side work on the project (its apps must be installed), run through
`python -m bench.django_side` with the same settings and environment as the server under test.

- `seed`: the organisations the scenarios call as, their API keys and their funding, made with the
  project's own services (`organization_create`, `api_key_create`, `incoming_transfer_receive`,
  `payout_create`).
- `seed_many`: many funded organisations with a key each (the no-hot-row stage, the pipeline).
- `deep_cursor`: a list cursor pointing some payouts deep, checked with one request.
- `explain`: EXPLAIN (ANALYZE, BUFFERS OFF) of the SQL the app really runs, rolled back afterwards.
"""

import base64
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from stdnum.ru import inn as stdnum_inn

from payouts.api.filters import PayoutFilter
from payouts.bank.reconciliation import payouts_claim_due
from payouts.bank.submission import payouts_claim_new
from payouts.ledger.incoming import incoming_transfer_receive
from payouts.models import Payout
from payouts.services import PayoutRequest, api_key_create, organization_create, payout_create

# Organisations of the scenarios: one that lists many payouts, one that writes, one with a handful
# of ledger entries among everybody else's.
LISTER = ("7707083893", "Bench Lister LLC")
WRITER = ("7736207543", "Bench Writer LLC")
SMALL = ("7728168971", "Bench Small LLC")
FUNDING = Decimal("100000000000.00")
SMALL_FUNDING = Decimal("1000.00")
SMALL_PAYOUTS = 5
VALID_RECIPIENT = {"name": "Ivan Petrov", "account_number": "40702810938000000001", "bic": "044525225"}


def seed() -> dict[str, Any]:
    result: dict[str, Any] = {}
    for role, (inn, name) in {"lister": LISTER, "writer": WRITER, "small": SMALL}.items():
        organization, _ = organization_create(inn=inn, name=name)
        amount = SMALL_FUNDING if role == "small" else FUNDING
        incoming_transfer_receive(
            operation_id=f"bench-funding-{role}",
            payer_inn=inn,
            amount=amount,
            currency="RUB",
            document_number=f"BENCH-{role.upper()}",
            document_date=date.today(),  # noqa: DTZ011
        )
        result[role] = {"inn": inn, "key": api_key_create(organization=organization, name="bench")}
        if role == "small":
            for number in range(SMALL_PAYOUTS):
                payout_create(
                    organization=organization,
                    idempotency_key=f"bench-small-{number}",
                    request=PayoutRequest(
                        amount=Decimal("10.00"),
                        currency="RUB",
                        recipient=dict(VALID_RECIPIENT),
                        description="bench",
                    ),
                )
    return result


def deep_cursor(inn: str, key: str, depth: int) -> dict[str, Any]:
    """DRF's cursor is base64 of `p=<created_at of the last row seen>`; built here for the row
    DEPTH deep in the lister's newest-first order, then checked with a real request."""
    row = (
        Payout.objects.filter(organization__inn=inn, hidden_at__isnull=True)
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)[depth : depth + 1]
        .get()
    )
    cursor = base64.b64encode(urlencode({"p": str(row)}).encode("ascii")).decode("ascii")
    path = "/api/payouts/?" + urlencode({"cursor": cursor})
    response = Client().get(path, HTTP_AUTHORIZATION=f"Api-Key {key}")
    if response.status_code != 200 or len(response.json()["results"]) != 20:
        raise SystemExit(f"the deep cursor does not give a full page: {response.status_code}")
    return {"path": path}


def _main_query(sql_list: list[str], table: str) -> str:
    for sql in sql_list:
        if sql.startswith("SELECT") and f'FROM "{table}"' in sql and "ORDER BY" in sql:
            return sql
    raise SystemExit(f"no list query on {table} among {len(sql_list)} captured")


def explain(listing: dict[str, Any]) -> list[dict[str, str]]:
    """Plans of the list query under each filter of `PayoutFilter` (and a deep page), the balance
    history query, and the reconciler's claim queries. Everything runs in one transaction that is
    rolled back: the claim's UPDATE and EXPLAIN ANALYZE's own writes leave nothing behind."""
    filter_examples = {
        "status": "status=failed",
        "currency": "currency=RUB",
        "created_after": "created_after=2000-01-01T00:00:00Z",
        "created_before": "created_before=2100-01-01T00:00:00Z",
        "amount_min": "amount_min=9990",
        "amount_max": "amount_max=1.50",
        "batch": "batch=01a23d8d-69fe-7d1a-a1dd-88654fbb27d7",
        "reference": "reference=item-1",
    }
    missing = set(PayoutFilter.base_filters) - set(filter_examples)
    if missing:
        raise SystemExit(f"PayoutFilter has filters the bench does not explain yet: {sorted(missing)}")
    client = Client()
    lister = {"HTTP_AUTHORIZATION": f"Api-Key {listing['lister_key']}"}
    small = {"HTTP_AUTHORIZATION": f"Api-Key {listing['small_key']}"}
    targets: list[tuple[str, str, dict[str, str], str]] = [
        ("list, no filter", "/api/payouts/", lister, "payouts_payout"),
        *[
            (f"list, `?{query}`", f"/api/payouts/?{query}", lister, "payouts_payout")
            for query in filter_examples.values()
        ],
        ("list, a page deep in the cursor", listing["deep_path"], lister, "payouts_payout"),
        (
            "balance history, the small organisation",
            f"/api/organizations/{listing['small_inn']}/balance/history/",
            small,
            "payouts_ledgerentry",
        ),
        (
            "balance history, the lister (many entries)",
            f"/api/organizations/{listing['lister_inn']}/balance/history/",
            lister,
            "payouts_ledgerentry",
        ),
    ]
    plans: list[dict[str, str]] = []
    with transaction.atomic():
        for title, path, headers, table in targets:
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path, **headers)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")
            sql = _main_query([query["sql"] for query in captured.captured_queries], table)
            plans.append({"title": title, "sql": sql, "plan": _explain(sql)})
        claims = {
            "reconciler's claim (`payouts_claim_due`)": lambda: payouts_claim_due(
                limit=settings.RECONCILE_BATCH_SIZE
            ),
            "dispatcher's claim (`payouts_claim_new`)": lambda: payouts_claim_new(
                limit=settings.DISPATCH_BATCH_SIZE, reclaim_after_seconds=settings.DISPATCH_RECLAIM_SECONDS
            ),
        }
        for title, claim in claims.items():
            # The claim itself is undone (savepoint) so that EXPLAIN finds the rows it claimed.
            with transaction.atomic(), CaptureQueriesContext(connection) as captured:
                claim()
                transaction.set_rollback(True)
            sql = next(q["sql"] for q in captured.captured_queries if "FOR UPDATE" in q["sql"])
            plans.append({"title": title, "sql": sql, "plan": _explain(sql)})
        transaction.set_rollback(True)
    return plans


def _explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS OFF) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def seed_many(prefix: str, count: int) -> list[dict[str, str]]:
    """COUNT funded organisations with an API key each; INNs `77<prefix 2 digits><5 digits>` plus
    the check digit, so that two calls with different prefixes never meet."""
    organizations: list[dict[str, str]] = []
    for number in range(count):
        base = f"77{prefix}{number:05d}"
        inn = base + stdnum_inn.calc_company_check_digit(base)
        organization, _ = organization_create(inn=inn, name=f"Bench {prefix}-{number} LLC")
        incoming_transfer_receive(
            operation_id=f"bench-funding-{inn}",
            payer_inn=inn,
            amount=FUNDING,
            currency="RUB",
            document_number=f"BENCH-{inn}",
            document_date=date.today(),  # noqa: DTZ011
        )
        organizations.append({"inn": inn, "key": api_key_create(organization=organization, name="bench")})
    return organizations
