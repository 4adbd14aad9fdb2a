"""Fleet state: presence, registry views."""
