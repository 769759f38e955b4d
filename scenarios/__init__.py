"""The shipped scenario files (installed as ``emulator.scenarios``); see README.md here."""
