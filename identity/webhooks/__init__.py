"""Webhook endpoints (Standard Webhooks): the services that manage them (``services``), how a
payload is signed (``signing``) and how events reach them through the outbox (``delivery``)."""
