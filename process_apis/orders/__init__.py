"""Quote → ERP sales order: the credit check, the mapped sales order, its status kept in
sync, and the hand-over to subscription ordering once its service starts."""
