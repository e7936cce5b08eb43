"""Batches of payouts: up to `PAYOUT_BATCH_MAX_ITEMS` payouts asked for in one request, each item
held to the rules of a single payout and then an ordinary payout with its own hold, events and
state machine (`create`)."""
