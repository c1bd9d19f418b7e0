"""`/v2/invoices`: the invoice contract with money as `{amount, currency}` objects."""
