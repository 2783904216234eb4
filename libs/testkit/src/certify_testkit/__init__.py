"""Helpers for certify's tests. Never imported by product code."""
