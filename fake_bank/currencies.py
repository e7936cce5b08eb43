"""The currencies the simulated bank holds: it pays out and receives these and no others."""

SUPPORTED_CURRENCIES = frozenset({"RUB", "USD", "EUR", "GBP", "CNY"})
