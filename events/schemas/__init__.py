"""One versioned `data` schema per canonical event type, grouped by family.

Each family module declares its schemas (subclasses of `EventData`, each naming its
`event_type`) and builds its events from the kernel's rows; `events.catalog` gathers
them into the registry the outbox validates against.
"""
