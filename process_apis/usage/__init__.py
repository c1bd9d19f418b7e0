"""Usage events: ingested in batches, de-duplicated per client, validated against the
subscription's metered prices, and stored append-only for aggregation."""
