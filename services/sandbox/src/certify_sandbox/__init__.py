"""Faithful local stand-ins for the outside world. A test double, never a shortcut inside the product."""
