"""Cross-app REST API pieces: problem details, pagination, throttles, schema."""
