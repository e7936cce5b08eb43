"""The bench database: created fresh, migrated by the project, filled with SQL.

Fill rows belong to the lister organisation and are newest-first one second apart, so the first page
of its list is the same at every size and a larger size adds older history. Statuses: the 30 newest
are in flight (new, processing, submitted), 0.1% failed, 0.1% canceled, the rest paid. Each payout
gets the events and ledger entries the real code path writes for its status (the hold, and its
post or void), and account totals are then recomputed from the entries, so `ledger_check` passes.
"""

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

FILL_CHUNK = 200_000
CEILING_READ_ROWS = 10_000
IN_FLIGHT_NEWEST = 30

_FILL = """
WITH series AS (
    SELECT i,
           ((i * 7919) %% 999900 + 100) / 100.0 AS amount,
           %(base)s::timestamptz - i * interval '1 second' AS created_at,
           CASE WHEN i <= %(in_flight)s THEN (ARRAY['new', 'processing', 'submitted'])[i %% 3 + 1]
                WHEN i %% 1000 = 500 THEN 'failed'
                WHEN i %% 1000 = 250 THEN 'canceled'
                ELSE 'paid' END AS status
    FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS i
), payouts AS (
    INSERT INTO payouts_payout (
        id, organization_id, amount, currency, recipient, description, status, failure_code,
        failure_reason, idempotency_key, request_fingerprint, bank_reference, hidden_at, created_at,
        updated_at, processing_at, submitted_at, paid_at, failed_at, canceled_at{claim_columns})
    SELECT gen_random_uuid(), %(organization)s, amount, 'RUB', %(recipient)s::jsonb, 'bench fill', status,
           CASE WHEN status = 'failed' THEN 'account_closed' ELSE '' END,
           CASE WHEN status = 'failed' THEN 'The account is closed.' ELSE '' END,
           'fill-' || i, repeat('0', 64),
           CASE WHEN status IN ('submitted', 'paid', 'failed') THEN 'bank-fill-' || i ELSE '' END,
           NULL, created_at,
           created_at + interval '1 second' * CASE status WHEN 'new' THEN 0 WHEN 'processing' THEN 1
                                                          WHEN 'submitted' THEN 2 ELSE 3 END,
           CASE WHEN status NOT IN ('new', 'canceled') THEN created_at + interval '1 second' END,
           CASE WHEN status IN ('submitted', 'paid', 'failed') THEN created_at + interval '2 seconds' END,
           CASE WHEN status = 'paid' THEN created_at + interval '3 seconds' END,
           CASE WHEN status = 'failed' THEN created_at + interval '3 seconds' END,
           CASE WHEN status = 'canceled' THEN created_at + interval '3 seconds' END
           {claim_values}
    FROM series
    RETURNING id, amount, status, created_at
), events AS (
    INSERT INTO payouts_payoutevent (payout_id, from_status, to_status, actor, reason, created_at)
    SELECT p.id, path.from_status, path.to_status, path.actor, path.reason,
           p.created_at + path.step * interval '1 second'
    FROM payouts p
    JOIN (VALUES
        ('new', 0, '', 'new', 'client', 'created'),
        ('processing', 0, '', 'new', 'client', 'created'),
        ('processing', 1, 'new', 'processing', 'worker', 'submitting'),
        ('submitted', 0, '', 'new', 'client', 'created'),
        ('submitted', 1, 'new', 'processing', 'worker', 'submitting'),
        ('submitted', 2, 'processing', 'submitted', 'worker', 'accepted by the bank'),
        ('paid', 0, '', 'new', 'client', 'created'),
        ('paid', 1, 'new', 'processing', 'worker', 'submitting'),
        ('paid', 2, 'processing', 'submitted', 'worker', 'accepted by the bank'),
        ('paid', 3, 'submitted', 'paid', 'bank', 'payout.paid'),
        ('failed', 0, '', 'new', 'client', 'created'),
        ('failed', 1, 'new', 'processing', 'worker', 'submitting'),
        ('failed', 2, 'processing', 'submitted', 'worker', 'accepted by the bank'),
        ('failed', 3, 'submitted', 'failed', 'bank', 'payout.failed'),
        ('canceled', 0, '', 'new', 'client', 'created'),
        ('canceled', 3, 'new', 'canceled', 'client', 'canceled')
    ) AS path (status, step, from_status, to_status, actor, reason) ON path.status = p.status
), holds AS (
    INSERT INTO payouts_ledgerentry (
        kind, debit_account_id, credit_account_id, amount, currency, pending_entry_id, payout_id,
        incoming_transfer_id, description, created_at{entry_org_column})
    SELECT 'pending', %(org_account)s, %(bank_account)s, amount, 'RUB', NULL, id, NULL, 'hold for payout',
           created_at{entry_org_value}
    FROM payouts
    RETURNING id, payout_id
)
INSERT INTO payouts_ledgerentry (
    kind, debit_account_id, credit_account_id, amount, currency, pending_entry_id, payout_id,
    incoming_transfer_id, description, created_at{entry_org_column})
SELECT CASE p.status WHEN 'paid' THEN 'post_pending' ELSE 'void_pending' END,
       %(org_account)s, %(bank_account)s, p.amount, 'RUB', h.id, p.id, NULL,
       CASE p.status WHEN 'paid' THEN 'payout paid' ELSE 'payout ' || p.status END,
       p.created_at + interval '3 seconds'{entry_org_value}
FROM payouts p JOIN holds h ON h.payout_id = p.id
WHERE p.status IN ('paid', 'failed', 'canceled')
"""

# The stored totals, recomputed from the entries by the rules `ledger_check` verifies.
_ACCOUNT_TOTALS = """
WITH sides AS (
    SELECT credit_account_id AS account_id, kind, amount AS credit, 0 AS debit FROM payouts_ledgerentry
    UNION ALL
    SELECT debit_account_id, kind, 0, amount FROM payouts_ledgerentry
), totals AS (
    SELECT account_id,
           COALESCE(sum(credit) FILTER (WHERE kind IN ('posted', 'post_pending')), 0) AS credits_posted,
           COALESCE(sum(debit) FILTER (WHERE kind IN ('posted', 'post_pending')), 0) AS debits_posted,
           COALESCE(sum(credit) FILTER (WHERE kind = 'pending'), 0)
             - COALESCE(sum(credit) FILTER (WHERE kind IN ('post_pending', 'void_pending')), 0)
             AS credits_pending,
           COALESCE(sum(debit) FILTER (WHERE kind = 'pending'), 0)
             - COALESCE(sum(debit) FILTER (WHERE kind IN ('post_pending', 'void_pending')), 0)
             AS debits_pending
    FROM sides GROUP BY account_id
)
UPDATE payouts_ledgeraccount AS account
SET credits_posted = totals.credits_posted, debits_posted = totals.debits_posted,
    credits_pending = totals.credits_pending, debits_pending = totals.debits_pending
FROM totals WHERE totals.account_id = account.id{only_organizations}
"""

_CEILING_TABLES = """
CREATE TABLE bench_ceiling_write (
    id bigserial PRIMARY KEY, amount numeric(18, 2) NOT NULL, currency varchar(3) NOT NULL,
    recipient jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE bench_ceiling_read (LIKE bench_ceiling_write INCLUDING ALL);
CREATE INDEX bench_ceiling_read_newest ON bench_ceiling_read (created_at DESC, id DESC);
"""

_CEILING_FILL = """
INSERT INTO bench_ceiling_read (amount, currency, recipient, created_at)
SELECT ((i * 7919) %% 999900 + 100) / 100.0, 'RUB', %(recipient)s::jsonb, now() - i * interval '1 second'
FROM generate_series(1, %(rows)s::int) AS i
"""


def server_url(database_url: str) -> str:
    """The same server, its maintenance database: where CREATE DATABASE is run from."""
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path="/postgres"))


def database_name(database_url: str) -> str:
    return urlsplit(database_url).path.lstrip("/")


def recreate(database_url: str) -> None:
    name = sql.Identifier(database_name(database_url))
    with psycopg.connect(server_url(database_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def drop(database_url: str) -> None:
    name = sql.Identifier(database_name(database_url))
    with psycopg.connect(server_url(database_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def create_ceiling_tables(database_url: str, recipient_json: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(_CEILING_TABLES)
        conn.execute(_CEILING_FILL, {"recipient": recipient_json, "rows": CEILING_READ_ROWS})


def _has_column(conn: psycopg.Connection[Any], table: str, column: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s", [table, column]
    ).fetchone()
    return found is not None


def _has_constraint(conn: psycopg.Connection[Any], name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_constraint WHERE conname = %s", [name]).fetchone() is not None


def fill_payouts(
    database_url: str, *, lister_inn: str, start: int, stop: int, base: datetime, recipient_json: str
) -> None:
    """Payouts number `start`..`stop` (1 is the newest) of the lister, with events and ledger entries."""
    with psycopg.connect(database_url) as conn:
        accounts = conn.execute(
            """SELECT (SELECT a.id FROM payouts_ledgeraccount a JOIN payouts_organization o
                       ON o.id = a.organization_id WHERE o.inn = %(inn)s AND a.currency = 'RUB'),
                      (SELECT id FROM payouts_ledgeraccount WHERE kind = 'bank_settlement'
                       AND currency = 'RUB'),
                      (SELECT id FROM payouts_organization WHERE inn = %(inn)s)""",
            {"inn": lister_inn},
        ).fetchone()
        if accounts is None or None in accounts:
            raise RuntimeError("the lister's accounts are missing: was it seeded?")
        org_account, bank_account, organization = accounts
        # The schema moves under the bench: since migration 0004 an entry names its organisation and
        # a settlement account keeps no totals (its side is the sum of its entries).
        entry_org = _has_column(conn, "payouts_ledgerentry", "organization_id")
        # Due as the code leaves them: new and in flight ten seconds after creation, final never.
        next_check = _has_column(conn, "payouts_payout", "next_check_at")
        fill = _FILL.format(
            entry_org_column=", organization_id" if entry_org else "",
            entry_org_value=", %(organization)s" if entry_org else "",
            claim_columns=", next_check_at, checks" if next_check else ", checked_at",
            claim_values=(
                ", CASE WHEN status IN ('new', 'processing', 'submitted')"
                " THEN created_at + interval '10 seconds' END, 0"
                if next_check
                else ", NULL"
            ),
        )
        settlement_in_entries = _has_constraint(conn, "ledger_settlement_totals_in_entries")
        account_totals = _ACCOUNT_TOTALS.format(
            only_organizations=" AND account.kind = 'organization'" if settlement_in_entries else ""
        )
        for chunk_start in range(start, stop + 1, FILL_CHUNK):
            conn.execute(
                fill,
                {
                    "start": chunk_start,
                    "stop": min(stop, chunk_start + FILL_CHUNK - 1),
                    "base": base,
                    "in_flight": IN_FLIGHT_NEWEST,
                    "organization": organization,
                    "org_account": org_account,
                    "bank_account": bank_account,
                    "recipient": recipient_json,
                },
            )
            conn.commit()
        conn.execute(account_totals)
        conn.commit()


def vacuum_analyze(database_url: str) -> None:
    """Statistics for the planner, then a checkpoint: the fill's dirty pages are written now, not
    by a checkpoint that would otherwise stall the commits of the next measurement."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")


def row_counts(database_url: str) -> dict[str, int]:
    tables = ["payouts_payout", "payouts_payoutevent", "payouts_ledgerentry", "payouts_ledgeraccount"]
    with psycopg.connect(database_url) as conn:
        counts: dict[str, int] = {}
        for table in tables:
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
            counts[table] = int(row[0]) if row else 0
        return counts
