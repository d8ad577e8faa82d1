"""The mirror's data layer: settings, the user snapshot and the one guarded write path."""
