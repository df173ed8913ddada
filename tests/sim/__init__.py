"""Seeded deterministic simulation: virtual clock, network and disk, reusable by any
sans-I/O core (ZAB today, partition replication later). Product code never imports it."""
