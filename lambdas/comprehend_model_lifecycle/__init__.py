"""Comprehend custom classifier lifecycle: train a candidate on merged data, evaluate it
against the live model on the same held-out set, and move the endpoint only to a better model.

Handlers: `intake` (upload events, one round at a time), `prepare_round`, `evaluate_round`,
`finish_round` (state machine tasks). Domain: `dataset`, `metrics`, `rounds`, `locking`.
"""
