"""The path a CLI or shell prompt takes: plan it, run it (screen, budget, dispatch, ledger), show the answer live."""
