"""Cross-cutting code shared by every service: no domain logic lives here."""
