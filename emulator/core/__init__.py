"""What every layer may use: the one clock, how a stream ended (endings and labels),
and signing (tokens, signatures, seals). Pure values and functions; nothing is
imported here."""
