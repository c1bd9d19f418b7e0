"""The support credit → credit memo workflow and `/v1/credit-memos`."""
