"""Who may see what: principals, accounts, jurisdiction-scoped cursors and the append-only audit log."""
