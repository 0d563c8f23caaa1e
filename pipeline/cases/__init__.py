"""Cases: recording an outcome (new case or thread), the life cycle, routing to an account, the
CSM service layer and the digest."""
