"""What a server keeps between requests: its configuration, the journal and the
transcripts in it, sessions, rules, matching, token budgets, records, metrics,
and :class:`~emulator.state.store.EmulatorState` that holds them. Nothing is
imported here."""
