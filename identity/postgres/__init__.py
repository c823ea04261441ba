"""Django's PostgreSQL backend (psycopg 3), with health checks that skip busy connections."""
