"""Secret screening: find credentials in text before it leaves the machine, and redact or mask them."""
