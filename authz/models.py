"""Roles, permissions and assignments (built by the authorization issue)."""
