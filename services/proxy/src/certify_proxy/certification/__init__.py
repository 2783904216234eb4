"""A certification request's lifecycle: intake, offers, payments, status; no HTTP here."""
