"""Outbound mail: what we may answer (loop safety), how each message is built, and its delivery."""
