"""Adapters: the edges where untrusted input is parsed and files are read."""
