"""certify's shared kit. No business logic lives here."""
