"""The simulated bank: its own models, HTTP API, signed webhooks and tasks.

It never imports the payout service; every exchange with it goes over HTTP (docs/bank-api.md).
"""
