"""The ceiling: a bare Django app on the same database server, under the same gunicorn settings.

One view writes a row in a transaction, one reads the newest 20 rows of a 10k-row table; no
middleware, no apps, raw SQL. What the project's endpoints reach is reported as a ratio to these.
"""
