"""Reference data production needs: legal entities and their calendars and tax codes,
partners and their rate cards, products and prices. Ops APIs, CLI and file import."""
