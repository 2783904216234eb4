"""The work the queue and the background loops run: certify, settle, webhooks, balance, gauges."""
