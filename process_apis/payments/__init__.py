"""The payment → commission workflow, the billing inbox consumer and `/v1/.../payments`."""
