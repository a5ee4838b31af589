"""Intake: decode and validate what upstream systems send; dead-letter what cannot be read."""
