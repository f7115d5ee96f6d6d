"""Cyclone request handlers, one module per transport family."""
