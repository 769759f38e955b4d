"""The Model Context Protocol: a scripted tool server over Streamable HTTP."""
