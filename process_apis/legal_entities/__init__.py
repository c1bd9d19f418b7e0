"""Legal entities: the ERP companies that issue invoices, with their posting calendars."""
