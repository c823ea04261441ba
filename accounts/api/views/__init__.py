"""REST API views for accounts: auth (sign-up, tokens, reset), me (self-service), users (admin)."""
