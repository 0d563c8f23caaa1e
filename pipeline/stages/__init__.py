"""The stages of the data flow, in order: parse, extract, identifiers, redaction (and verify),
sections; and the sender signals. Each takes one value object and returns the next; none touches
the database or the runtime."""
