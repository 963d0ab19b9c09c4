"""`routesh ui`: a local, read-only web dashboard over the usage ledger (loopback only, a per-run token)."""
