"""What the gateway knows about each model: the one spec everything reads."""
