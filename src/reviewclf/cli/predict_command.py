"""``reviewclf predict`` and ``evaluate`` (placeholder until the runtime CLI lands)."""

COMMANDS: list = []
