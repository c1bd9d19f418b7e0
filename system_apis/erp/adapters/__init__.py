"""ERP adapters: one module per vendor wire format, each implementing `ErpPort`."""
