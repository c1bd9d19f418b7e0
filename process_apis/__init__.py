"""Process APIs: synchronous orchestration of the workflows across backends."""
