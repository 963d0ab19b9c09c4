"""Usage: the ledger of every attempt, and the stats, tallies and charts read from it."""
