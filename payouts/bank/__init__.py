"""Where the bank's answer lands: submitting payouts (`submission`), the bank's webhooks
(`webhooks`), the reconciler that asks the bank about payouts nobody moved (`reconciliation`), and
the one module that translates between the bank's vocabulary and ours (`adapter`)."""
