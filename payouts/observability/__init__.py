"""What operators see, beside the counters the code increments (`payouts.metrics`): the state read
at scrape time (`state`), the periodic ledger check (`ledger`), the counters' minute snapshots and
what the overview page makes of them (`snapshots`, `overview`)."""
