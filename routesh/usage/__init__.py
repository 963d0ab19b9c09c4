"""The usage side: the ledger, what it says about spend and outcomes, and its rendering."""
