"""The subscription workflows: order, amendment and cancellation, with the catalog steps."""
