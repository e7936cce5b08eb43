"""Rows as the ORM would write them, for the few writes that go around it for speed: the create's
one statement, and a batch's COPY."""

from collections.abc import Iterable
from functools import cache
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model


@cache
def insert_fields(model: type[Model]) -> list[Field[Any, Any]]:
    """The columns the ORM would insert for MODEL: all but an automatic primary key (the database's)."""
    return [field for field in model._meta.concrete_fields if field is not model._meta.auto_field]


def columns(fields: list[Field[Any, Any]]) -> str:
    return ", ".join(connection.ops.quote_name(cast(str, field.column)) for field in fields)


def insert_values(instance: Model, db: BaseDatabaseWrapper | None = None) -> list[Any]:
    """INSTANCE's values for `insert_fields`, as the ORM would save them (defaults and `auto_now`
    applied to the instance). DB: the connection itself, for a caller writing many rows (the
    default, `django.db.connection`, is a proxy looked up on every use)."""
    db = db or connections[DEFAULT_DB_ALIAS]
    return [
        field.get_db_prep_save(field.pre_save(instance, True), db) for field in insert_fields(type(instance))
    ]


def copy_into(model: type[Model], instances: Iterable[Model]) -> None:
    """Write INSTANCES with PostgreSQL's COPY, in the caller's transaction: the values the ORM would
    insert, at a fraction of `bulk_create`'s cost for thousands of rows. Sets no primary key the
    database would assign (use it for models whose key is set in Python, or that need none back)."""
    fields = insert_fields(model)
    db = connections[DEFAULT_DB_ALIAS]
    sql = f"COPY {db.ops.quote_name(model._meta.db_table)} ({columns(fields)}) FROM STDIN"
    with db.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for instance in instances:
            copy.write_row(insert_values(instance, db))
