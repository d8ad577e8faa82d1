"""Lambda entry points of the Cognito attribute mirror (see DESIGN.md for the public contract)."""
