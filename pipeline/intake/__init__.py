"""Intake: the SMTP edge and the durable store of raw messages it answers 250 for."""
