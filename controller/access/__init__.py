"""Who may see and act on what: agencies, users, tokens and the audit trail."""
