"""The ERP system API: the canonical port, vendor adapters and their wire mapping."""
