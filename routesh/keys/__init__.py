"""Provider keys: the lookup order, the keyring backends and the key a request sends."""
