"""Where money is moved: the double-entry ledger with two-phase holds (`entries`), incoming transfers
that credit an organisation (`incoming`), and the invariants an operator can verify (`check`)."""
